"""``retiree-admin park …``: the Park agreements and the A45 service list."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.extensions import db
from districts.industrial_park import residents
from districts.industrial_park.models import ParkAgreement


@click.group("park")
def park_group():
    """工业园区：园区社会化管理协议（P1–P4）与园区居住人员服务名单（A45）。"""


@park_group.command("agreements")
@click.option("--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="核对日期（YYYY-MM-DD），默认今天")
@with_appcontext
def agreements_command(on):
    """列出园区协议及其在核对日期的生效版本。"""
    day = on.date() if on else date.today()
    rows = db.session.scalars(select(ParkAgreement).order_by(ParkAgreement.agreement_no))
    for agreement in rows:
        version = agreement.version_in_force(day)
        state = (f"第{version.version_no}版生效（{version.effective_from.isoformat()}起）"
                 if version else "无生效版本")
        click.echo(f"{agreement.agreement_no}\t{agreement.enterprise.unit_no}\t"
                   f"{agreement.enterprise.name}\t{state}")


@park_group.command("residents")
@with_appcontext
def residents_command():
    """生成（更新）园区居住的市、区企业退休人员服务名单（A45）。"""
    counts = residents.build()
    click.echo(f"名单已更新：新增 {counts['added']} 人，结束 {counts['ended']} 人。")
