"""The supervisors' chart of the Park agreements: how far each side's duties (P2, P3)
are met on the versions in force, counted in SQL in the user's scope."""
from __future__ import annotations

from sqlalchemy import func, select

from core.charts import ChartData, ChartFilters, ChartSpec
from districts.industrial_park.models import ParkAgreementDuty, ParkAgreementVersion
from districts.industrial_park.texts import DUTY_STATUS


def duties_by_status(session, filters: ChartFilters) -> ChartData:
    query = (select(ParkAgreementDuty.party, ParkAgreementDuty.status, func.count())
             .join(ParkAgreementVersion, ParkAgreementVersion.id == ParkAgreementDuty.version_id)
             .where(ParkAgreementVersion.status == "in_force")
             .group_by(ParkAgreementDuty.party, ParkAgreementDuty.status))
    if filters.region_path:
        query = query.where(ParkAgreementDuty.region_path.startswith(filters.region_path))
    counts = {(party, status): n for party, status, n in session.execute(query).all()}
    return ChartData(
        categories=list(DUTY_STATUS.values()),
        series=[{"name": name, "data": [counts.get((party, s), 0) for s in DUTY_STATUS]}
                for party, name in (("A", "甲方义务"), ("B", "乙方义务"))])


CHARTS = [ChartSpec("park_agreement_duties", "园区协议义务落实情况", "bar", duties_by_status,
                    "生效协议中甲、乙双方义务的落实情况")]
