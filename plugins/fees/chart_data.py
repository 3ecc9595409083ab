"""Charts for the supervisors' dashboard (the ``charts`` hook), aggregated in SQL through
the scoped session: a district sees its own retirees' dues; plans are the city centre's.

Sums are exact ``Decimal`` up to here; the chart gets them as plain numbers (the
dashboard serialises and draws numbers); the exact figures are on the screens,
receipts and reports."""
from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select

from core.charts import ChartData, ChartFilters, ChartSpec
from core.regions import Region
from core.registry.models import Retiree
from plugins.fees.models import FeeDue, Instalment, InstalmentPlan, city_path

CITY_CENTRE = "市退管中心（居外人员）"


# The code length of the level below a path of n segments (city → district → street →
# community), as in core.regions.CODE_LENGTH.
_CHILD_CODE = {1: 6, 2: 9, 3: 12}


def collected_vs_due(session, filters: ChartFilters | None = None) -> ChartData:
    """A35: the fees due and the part collected (yuan), one bar pair per region one level
    below the chosen one (districts for the city, streets for a district …). The
    dashboard's region and retirement-date filters apply."""
    filters = filters or ChartFilters()
    prefix = filters.region_path or city_path()
    length = _CHILD_CODE.get(prefix.strip("/").count("/") + 1, 12)
    child = func.substr(FeeDue.region_path, len(prefix) + 1, length).label("child")
    q = (select(child, func.sum(FeeDue.amount), func.sum(FeeDue.paid_amount))
         .where(FeeDue.region_path.startswith(prefix))
         .group_by(child).order_by(child))
    if filters.date_from or filters.date_to:
        q = q.join(Retiree, Retiree.id == FeeDue.retiree_id)
        if filters.date_from:
            q = q.where(Retiree.retirement_date >= filters.date_from)
        if filters.date_to:
            q = q.where(Retiree.retirement_date <= filters.date_to)
    rows = session.execute(q).all()
    names = dict(session.execute(select(Region.code, Region.name).where(
        Region.code.in_([code for code, _, _ in rows if code]))).all())
    return ChartData(
        categories=[names.get(code, code) if code else CITY_CENTRE for code, _, _ in rows],
        series=[{"name": "应缴（元）", "unit": "元", "data": [float(due or 0) for _, due, _ in rows]},
                {"name": "已缴（元）", "unit": "元", "data": [float(paid or 0) for _, _, paid in rows]}])


COMPLIANCE = ("已缴清", "逾期未缴", "未到期")


def instalment_compliance(session, filters: ChartFilters | None = None) -> ChartData:
    """A36: instalments of plans in force or completed — paid, overdue, not yet due.
    Plans are the city centre's: the retirement-date filter does not apply to them. The
    numbers count instalments, so their unit is 期, not 人 (issue #14 item 20)."""
    today = date.today()
    status = case((Instalment.paid_amount >= Instalment.amount, COMPLIANCE[0]),
                  (Instalment.due_on < today, COMPLIANCE[1]),
                  else_=COMPLIANCE[2]).label("status")
    q = (select(status, func.count(Instalment.id)).join(InstalmentPlan)
         .where(InstalmentPlan.state.in_(("signed", "completed"))).group_by(status))
    counts = dict(session.execute(q).all())
    return ChartData(categories=list(COMPLIANCE),
                     series=[{"name": "分期期数", "unit": "期",
                             "data": [counts.get(c, 0) for c in COMPLIANCE]}])


CHARTS = [
    ChartSpec(key="fees_collected_vs_due", title="社会化管理服务费：应缴与已缴", kind="bar",
              data=collected_vs_due, description="A35：各区（选定区域的下一级）退休人员应缴服务费与已缴金额（元）"),
    ChartSpec(key="fees_instalment_compliance", title="分期缴费执行情况", kind="pie",
              data=instalment_compliance, description="A36：执行中分期计划各期的按期缴清与逾期情况"),
]
