"""``retiree-admin fees …``: arrears, overdue instalments, the period report, and raising
the dues missing after the plugin was enabled for a district."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

from core.cli import fail
from core.extensions import db
from plugins.fees.assessment import assess_backlog, balances
from plugins.fees.fund import period_report
from plugins.fees.instalments import overdue_instalments
from plugins.fees.money import ZERO, yuan


@click.group("fees")
def fees_group():
    """社会化管理服务费（A34–A39）。"""


@fees_group.command("arrears")
@click.option("--all", "show_all", is_flag=True, help="列出全部单位（含已缴清）")
@with_appcontext
def arrears(show_all):
    """欠费清单：各单位应缴、已缴、欠缴及缴款方（A35、A36）。"""
    rows = balances(db.session, arrears_only=not show_all)
    if not rows:
        click.echo("没有欠费单位" if not show_all else "暂无核定的服务费")
        return
    click.echo("单位编号\t单位名称\t缴款方\t人数\t应缴\t已缴\t欠缴\t分期计划")
    for b in rows:
        payer = b.payer_name + ("（行业主管部门代缴）" if b.payer_kind == "industry_authority" else "")
        click.echo(f"{b.enterprise.unit_no}\t{b.enterprise.name}\t{payer}\t{b.retirees}\t"
                   f"{yuan(b.assessed)}\t{yuan(b.paid)}\t{yuan(b.outstanding)}\t"
                   f"{b.plan.state_label if b.plan else ''}")
    total = sum((b.outstanding for b in rows), ZERO)
    click.echo(f"合计欠缴：{yuan(total)} 元（{sum(1 for b in rows if b.outstanding > 0)} 个单位）")


@fees_group.command("overdue")
@with_appcontext
def overdue():
    """逾期未缴的分期（A36）。"""
    rows = overdue_instalments(db.session)
    if not rows:
        click.echo("没有逾期的分期")
        return
    for i in rows:
        click.echo(f"{i.plan.enterprise.unit_no}\t{i.plan.enterprise.name}\t第{i.seq}期\t"
                   f"应缴日期 {i.due_on}\t未缴 {yuan(i.outstanding)} 元\t逾期")


@fees_group.command("assess")
@with_appcontext
def assess():
    """为已启用本插件的区补核定服务费（新退休人员、已移交档案的人员；不重复核定）。"""
    created = assess_backlog(db.session)
    db.session.commit()
    click.echo(f"新核定服务费 {created} 人")


@fees_group.command("report")
@click.option("--from", "date_from", required=True, help="起始日期 YYYY-MM-DD")
@click.option("--to", "date_to", default=None, help="截止日期 YYYY-MM-DD（默认今天）")
@with_appcontext
def report(date_from, date_to):
    """财政专户收支期间报表与各服务机构经费账（A38、A39）。"""
    try:
        start = date.fromisoformat(date_from)
        end = date.fromisoformat(date_to) if date_to else date.today()
    except ValueError:
        fail("日期格式应为 YYYY-MM-DD")
    if end < start:
        fail("截止日期不能早于起始日期")
    r = period_report(db.session, start, end)
    click.echo(f"财政专户 {start} 至 {end}")
    click.echo(f"期初余额\t{yuan(r.opening)}")
    for name, amount in r.income.items():
        click.echo(f"收入：{name}\t{yuan(amount)}")
    click.echo(f"收入合计\t{yuan(r.income_total)}")
    for name, amount in r.spending.items():
        click.echo(f"支出：{name}\t{yuan(amount)}")
    click.echo(f"支出合计\t{yuan(r.spending_total)}")
    click.echo(f"期末余额\t{yuan(r.closing)}")
    for b in r.books:
        click.echo(f"{b.name}\t期初 {yuan(b.opening)}\t拨入 {yuan(b.received)}\t"
                   f"支出 {yuan(b.spent)}\t期末 {yuan(b.closing)}")
