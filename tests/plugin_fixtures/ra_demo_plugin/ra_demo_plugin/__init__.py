"""演示插件 (demo_widgets): a throwaway external plugin, installed as its own
distribution in the tests, that touches no core file.

It implements one hook of each kind: a table with its own Alembic branch, a screen with
a menu, a REST API, a CLI command, a rule (吴中区 joins the pooling area), a validation
(the name ``演示拒绝`` is refused), an A12 verdict (no agreement before 2025), and the
event hooks (recorded in ``EVENTS``).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import g, redirect, request
from flask_appbuilder import BaseView, Model, expose, has_access
from flask_appbuilder.api import BaseApi
from flask_appbuilder.security.decorators import protect
from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import RuleViolation
from core.plugins import PluginInfo, ViewSpec, hookimpl

PLUGIN = PluginInfo(name="demo_widgets", title="演示插件", version="0.1.0",
                    description="测试用的外部插件")

WUZHONG = "320506"
REFUSED_NAME = "演示拒绝"
AGREEMENTS_FROM = date(2025, 1, 1)


class DemoNote(Model):
    """A row the plugin's screen writes; it must survive the plugin being switched off.
    ``test_`` prefix: the schema check of core ignores tables of test plugins."""

    __tablename__ = "test_demo_widget_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(200), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)


class DemoWidgetsView(BaseView):
    route_base = "/demo-widgets"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        notes = self.appbuilder.session.scalars(select(DemoNote.text).order_by(DemoNote.id))
        return "演示插件页面：" + "、".join(notes)

    @expose("/note", methods=["POST"])
    @has_access
    def note(self):
        session = self.appbuilder.session
        session.add(DemoNote(text=request.form["text"], created_by=g.user.username))
        session.commit()
        return redirect(self.route_base + "/")


class DemoWidgetsApi(BaseApi):
    resource_name = "demo_widgets"
    allow_browser_login = True

    @expose("/count", methods=["GET"])
    @protect()
    def count(self):
        total = self.appbuilder.session.scalar(select(func.count(DemoNote.id)))
        return self.response(200, count=total)


@hookimpl
def migrations_dir():
    return Path(__file__).parent / "migrations"


@hookimpl
def views():
    return [ViewSpec(DemoWidgetsView, "演示小部件", "演示插件")]


@hookimpl
def apis():
    return [DemoWidgetsApi]


@hookimpl
def cli_commands():
    @click.command("demo-widgets-hello")
    def hello():
        """演示插件的命令。"""
        click.echo("演示插件向您问好")

    return [hello]


@hookimpl
def is_in_pooling_area(district, on):
    """吴中区 joins the pooling area where this plugin is on; others: no opinion."""
    return True if district.code == WUZHONG else None


@hookimpl
def enterprise_agreement(enterprise, on):
    """A12 as a district might rule it: no agreement is in force before 2025."""
    if on < AGREEMENTS_FROM:
        return f"演示插件：{enterprise.name}的社会化管理协议自2025年1月1日起生效"
    return None


@hookimpl
def fee_schedule(retiree):
    """A35 as a district might vary it: 100 yuan a year for 5 years."""
    from decimal import Decimal

    return {"rate": Decimal("100"), "years": 5, "total": Decimal("500")}


@hookimpl
def validate_retiree(retiree, session):
    if retiree.name == REFUSED_NAME:
        return [RuleViolation("演示插件拒绝登记此姓名", "name")]
    return []


# What the event hooks saw: (hook name, retiree name), for the tests to read.
EVENTS: list[tuple[str, str]] = []


@hookimpl
def retiree_registered(retiree):
    EVENTS.append(("retiree_registered", retiree.name))


@hookimpl
def retiree_moved(retiree, from_region, to_region):
    EVENTS.append(("retiree_moved", retiree.name))


@hookimpl
def retiree_died(retiree):
    EVENTS.append(("retiree_died", retiree.name))


@hookimpl
def archive_accepted(retiree):
    EVENTS.append(("archive_accepted", retiree.name))
