"""Screens and API of the merger plugin."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.filters import FilterInFunction
from sqlalchemy import select

from core.errors import RuleViolation, RuleViolations
from core.extensions import db
from core.regions import Region
from core.registry.models import Retiree
from core.views.base import ScopedModelRestApi, ScopedModelView, actor_name, interface
from districts.wuzhong_xiangcheng import DISTRICTS
from districts.wuzhong_xiangcheng.models import MergerDate, MergerWorkItem
from districts.wuzhong_xiangcheng.worklist import build_worklist, progress


def _merger_districts():
    return db.session.execute(select(Region).where(Region.code.in_(DISTRICTS))).scalars().all()


def check_merger_date(item: MergerDate) -> None:
    """A44: the date is set by a city administrator, for 吴中区 or 相城区 only."""
    user = g.get("ra_user")
    if user is None or user.region is None or user.region.level != "city":
        raise RuleViolations([RuleViolation("并轨日期只能由市级管理员设置", "merger_date", "A44")])
    district = item.district or db.session.get(Region, item.district_id)
    if district is None or district.code not in DISTRICTS:
        raise RuleViolations([RuleViolation("并轨日期只适用于吴中区、相城区", "district", "A44")])
    plugins = current_app.extensions["retiree_admin.plugins"]
    if not plugins.enabled_for_path("wuzhong_xiangcheng", district.region_path, db.session):
        raise RuleViolations([RuleViolation(
            f"{district.name}尚未启用“吴中区、相城区并轨”插件", "district", "A44")])
    item.set_by = actor_name()


class MergerDateView(ScopedModelView):
    datamodel = interface(MergerDate)
    list_title = "并轨日期"
    list_columns = ["district", "merger_date", "document_no", "set_by", "set_at"]
    add_columns = ["district", "merger_date", "document_no"]
    edit_columns = ["merger_date", "document_no"]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    label_columns = {"district": "区", "merger_date": "并轨日期", "document_no": "文件文号",
                     "set_by": "设置人", "set_at": "设置时间"}
    add_form_query_rel_fields = {"district": [["id", FilterInFunction,
                                               lambda: [r.id for r in _merger_districts()]]]}

    def prepare_item(self, item, is_new: bool) -> None:
        check_merger_date(item)


class MergerDateApi(ScopedModelRestApi):
    resource_name = "merger_date"
    datamodel = interface(MergerDate)
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "put", "info"}
    list_columns = ["id", "district.id", "district.name", "merger_date", "document_no", "set_by"]
    show_columns = list_columns
    add_columns = ["district", "merger_date", "document_no"]
    edit_columns = ["merger_date", "document_no"]

    def prepare_item(self, item, is_new: bool) -> None:
        check_merger_date(item)


class MergerWorklistView(BaseView):
    """A44: the worklist and its progress; building it changes no retiree.

    Reading it is ``can_list`` (the supervisor's read-only set includes it, issue #14
    item 21); building it is ``can_build``. The work itself — moving an outside resident
    into a community of the district — is a move, done by whoever holds the person: the
    city centre, since outside residents are registered at city level."""

    route_base = "/merger"
    default_view = "worklist"
    method_permission_name = {"worklist": "list", "build": "build"}

    @expose("/worklist/")
    @has_access
    def worklist(self):
        items = db.session.execute(
            select(MergerWorkItem).where(MergerWorkItem.status == "pending")
            .order_by(MergerWorkItem.id).limit(500)).scalars().all()
        sm = self.appbuilder.sm
        movable: set[int] = set()
        if sm.has_access("can_move", "RetireeModelView"):
            # Only people in the user's own scope can be moved by them.
            movable = set(db.session.scalars(select(Retiree.id).where(
                Retiree.id.in_([i.retiree_id for i in items]))))
        return self.render_template(
            "wx_worklist.html", items=items, progress=progress(), movable=movable,
            can_build=sm.has_access("can_build", self.class_permission_name))

    @expose("/worklist/build", methods=["POST"])
    @has_access
    def build(self):
        added = build_worklist()
        flash("工作清单已更新：" + ("；".join(f"{k}新增{v}人" for k, v in added.items())
                                  or "尚无已到并轨日期的区"), "success")
        return redirect(url_for(".worklist"))
