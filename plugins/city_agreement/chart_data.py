"""The supervisors' chart of the city agreements (A12), counted in SQL in the user's scope."""
from __future__ import annotations

from sqlalchemy import func, select

from core.charts import ChartData, ChartFilters, ChartSpec
from plugins.city_agreement.models import STATUS, CityAgreement


def agreements_by_status(session, filters: ChartFilters) -> ChartData:
    query = select(CityAgreement.status, func.count()).group_by(CityAgreement.status)
    if filters.region_path:
        query = query.where(CityAgreement.region_path.startswith(filters.region_path))
    if filters.date_from:
        query = query.where(CityAgreement.signed_on >= filters.date_from)
    if filters.date_to:
        query = query.where(CityAgreement.signed_on <= filters.date_to)
    counts = dict(session.execute(query).all())
    return ChartData(categories=list(STATUS.values()),
                     series=[{"name": "协议数", "data": [counts.get(k, 0) for k in STATUS]}])


CHARTS = [ChartSpec("city_agreement_status", "社会化管理协议签订情况", "bar", agreements_by_status,
                    "单位与市退管中心的协议按状态统计")]
