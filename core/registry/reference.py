"""Enterprises and employment agencies are reference data (issue #12, F3, A12, A27).

Street and community staff read them (their roles carry read permissions only: see
``core.security.ROLES``); city staff change any of them; district staff register and
change the enterprises registered in their own district (``Enterprise.district``),
before and after the change, and no agency. Every change is audited like every model
change (``core.audit.listeners``). Outside a request (CLI, jobs, the demo) the operator
is trusted, as for every other model.
"""
from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import inspect, select

from core.errors import ScopeViolation
from core.extensions import db
from core.registry.models import Enterprise

READ_ONLY = "参保单位和就业管理机构是基础数据：街道、社区只能查看，需要修改请联系市或区退管中心"
OTHER_DISTRICT = "区退管中心只能登记和修改注册在本区的参保单位；其他单位请联系市退管中心"
AGENCY_CITY_ONLY = "就业管理机构由市退管中心维护，区退管中心只能查看"


def _writer_region():
    """The region of the user making the change, or None outside a request."""
    if not has_request_context():
        return None
    user = g.get("ra_user")
    region = getattr(user, "region", None)
    if region is None or region.level not in ("city", "district"):
        raise ScopeViolation(READ_ONLY)
    return region


def check_enterprise_write(item: Enterprise, is_new: bool) -> None:
    """City staff change any enterprise; district staff only one registered in their
    district, and they cannot move it to another district or take one in."""
    region = _writer_region()
    if region is None or region.level == "city":
        return
    with db.session.no_autoflush:
        # Screens and APIs set the relationship; its column follows only at the flush.
        if "district" in inspect(item).dict:
            districts = {item.district.id if item.district is not None else None}
        else:
            districts = {item.district_id}
        if not is_new:
            districts.add(db.session.scalar(
                select(Enterprise.district_id).where(Enterprise.id == item.id)))
    if districts != {region.id}:
        raise ScopeViolation(OTHER_DISTRICT)


def check_agency_write(item, is_new: bool) -> None:
    """Employment agencies keep archives city-wide (A27): the city centre changes them."""
    region = _writer_region()
    if region is not None and region.level != "city":
        raise ScopeViolation(AGENCY_CITY_ONLY)
