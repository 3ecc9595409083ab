"""``retiree-admin city-agreement …``: the agreements from the command line."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from core.extensions import db
from core.registry.models import Enterprise, Retiree
from plugins.city_agreement.agreements import a12_applies, agreements_of


@click.group("city-agreement")
def city_agreement_group():
    """单位与市退管中心的社会化管理协议（A12）。"""


@city_agreement_group.command("missing")
@click.option("--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="核对日期（YYYY-MM-DD），默认今天")
@with_appcontext
def missing(on):
    """列出在核对日期没有有效协议、仍有退休人员待移交档案的单位。"""
    day = on.date() if on else date.today()
    waiting = dict(db.session.execute(
        select(Retiree.employer_id, func.count())
        .where(Retiree.management_state == "employer_managed", Retiree.employer_id.is_not(None))
        .group_by(Retiree.employer_id)).all())
    found = 0
    for enterprise in db.session.scalars(select(Enterprise).order_by(Enterprise.unit_no)):
        if not waiting.get(enterprise.id) or not a12_applies(db.session, enterprise, day):
            continue
        if any(a.in_force_on(day) for a in agreements_of(db.session, enterprise.id)):
            continue
        found += 1
        click.echo(f"{enterprise.unit_no}\t{enterprise.name}\t待移交档案 {waiting[enterprise.id]} 人")
    click.echo(f"共 {found} 个单位尚无有效协议（{day.isoformat()}）。")
