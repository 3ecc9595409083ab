"""``retiree-admin merger …``: merger dates and the worklist from the command line."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.cli import fail
from core.extensions import db
from core.regions import region_by_code
from districts.wuzhong_xiangcheng import DISTRICTS
from districts.wuzhong_xiangcheng.models import MergerDate
from districts.wuzhong_xiangcheng.worklist import build_worklist, progress


@click.group("merger")
def merger_group():
    """吴中区、相城区并轨（A44）。"""


@merger_group.command("set-date")
@click.argument("district_code")
@click.argument("merger_date", type=click.DateTime(formats=["%Y-%m-%d"]))
@with_appcontext
def set_date(district_code, merger_date):
    """设置某区的并轨日期（YYYY-MM-DD）。"""
    if district_code not in DISTRICTS:
        fail("并轨日期只适用于吴中区（320506）、相城区（320507）")
    district = region_by_code(db.session, district_code)
    if district is None:
        fail(f"区域代码 {district_code} 不存在")
    row = db.session.scalar(select(MergerDate).where(MergerDate.district_id == district.id))
    if row is None:
        row = MergerDate(district=district, merger_date=merger_date.date(), set_by="cli")
        db.session.add(row)
    row.merger_date, row.set_by = merger_date.date(), "cli"
    db.session.commit()
    click.echo(f"{district.name}并轨日期：{row.merger_date}")


@merger_group.command("worklist")
@with_appcontext
def worklist():
    """生成（更新）并轨工作清单并显示进度。"""
    for name, n in build_worklist(date.today()).items():
        click.echo(f"{name}：新增 {n} 人")
    for p in progress():
        click.echo(f"{p['district']}：共 {p['total']} 人，已转为本地人员 {p['done']} 人，待办 {p['pending']} 人")
