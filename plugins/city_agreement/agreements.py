"""The rules of the city agreement (A12): what a valid record is, and whether an
enterprise's retirees may enter socialized management on a date."""
from __future__ import annotations

from datetime import date

from flask import g
from sqlalchemy import inspect, select

from core.errors import RuleViolation, RuleViolations
from core.registry import validators
from core.registry.models import Enterprise
from core.registry.service import in_pooling_area
from core.scoping import current_scope, path_in_scope, unscoped
from plugins.city_agreement.models import (
    CITY_CENTRE,
    STATUS,
    CityAgreement,
    enterprise_district,
)

# What both parties signed (with the number and party A): fixed once the agreement is
# signed; a change is a new agreement.
SIGNED_CONTENT = ("signed_on", "party_a_representative", "party_a_phone", "party_b_name",
                  "party_b_representative", "party_b_phone")
LABELS = {
    "document_no": "协议编号", "enterprise": "甲方（参保单位）", "unit_no": "单位编号",
    "status": "协议状态", "status_label": "协议状态", "signed_on": "签订日期",
    "party_a_representative": "甲方代表", "party_a_phone": "甲方联系电话",
    "party_b_name": "乙方", "party_b_representative": "乙方代表", "party_b_phone": "乙方联系电话",
    "terminated_on": "终止日期", "termination_reason": "终止原因", "notes": "备注",
    "created_by": "登记人", "created_at": "登记时间", "updated_by": "修改人",
    "updated_at": "修改时间",
}


def a12_applies(session, enterprise: Enterprise, on: date) -> bool:
    """A12 (with A4, A44): the city agreement is signed by enterprises insured in the
    city pooling area. An enterprise registered in a district outside it on ``on`` (the
    Industrial Park, which signs the Park agreement, P1; 吴中区 and 相城区 before their
    merger) is not asked for one; an enterprise with no district recorded is."""
    district = enterprise_district(enterprise)
    if district is None or district.level != "district":
        return True
    return in_pooling_area(session, district, on)


def agreements_of(session, enterprise_id: int) -> list[CityAgreement]:
    """All agreements of an enterprise in the order they were recorded, past the user's
    scope (the archive is accepted by a community clerk; the agreement is filed at city
    or district)."""
    with unscoped():
        return list(session.scalars(select(CityAgreement)
                                    .where(CityAgreement.enterprise_id == enterprise_id)
                                    .order_by(CityAgreement.id)))


def verdict(session, enterprise: Enterprise, on: date) -> bool | str | None:
    """A12: True when an agreement is in force on ``on``; a Chinese message naming the
    enterprise and what is missing when none is; None where A12 does not apply."""
    if not a12_applies(session, enterprise, on):
        return None
    agreements = agreements_of(session, enterprise.id)
    if any(a.in_force_on(on) for a in agreements):
        return True
    message = (f"{enterprise.name}（单位编号{enterprise.unit_no}）尚未与市退管中心签订有效的"
               "《企业退休人员社会化管理协议书》，其退休人员暂不能纳入社会化管理，档案不予接收")
    if agreements:
        last = agreements[-1]
        if last.status == "draft":
            message += f"：协议{last.document_no}尚未签订"
        elif last.signed_on and last.signed_on > on:
            message += f"：协议{last.document_no}自{last.signed_on.isoformat()}起生效"
        elif last.terminated_on and last.terminated_on <= on:
            message += f"：协议{last.document_no}已于{last.terminated_on.isoformat()}终止"
    return message


def _enterprise_id(item: CityAgreement) -> int | None:
    return item.enterprise.id if item.enterprise is not None else item.enterprise_id


def _old(item: CityAgreement, field: str):
    hist = inspect(item).attrs[field].history
    if hist.deleted:
        return hist.deleted[0]
    return hist.unchanged[0] if hist.unchanged else getattr(item, field)


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return a_from < (b_to or date.max) and b_from < (a_to or date.max)


def check(session, item: CityAgreement, actor: str, is_new: bool) -> None:
    """Normalise and validate before a write; raise ``RuleViolations`` to refuse."""
    errors: list[RuleViolation] = []
    user = g.get("ra_user")
    region = getattr(user, "region", None)
    if region is not None and region.level not in ("city", "district"):
        errors.append(RuleViolation("协议由市、区退管中心登记", "enterprise", "A12"))
    item.document_no = (item.document_no or "").strip()
    if not item.document_no:
        errors.append(RuleViolation("请填写协议编号", "document_no"))
    if item.enterprise is None and item.enterprise_id is None:
        errors.append(RuleViolation("请选择甲方（参保单位）", "enterprise", "A12"))
    if item.status not in STATUS:
        allowed = "、".join(f"{k}（{v}）" for k, v in STATUS.items())
        errors.append(RuleViolation(f"协议状态无效，可选：{allowed}", "status"))
    item.party_b_name = (item.party_b_name or "").strip() or CITY_CENTRE
    for field in ("party_a_phone", "party_b_phone"):
        try:
            setattr(item, field, validators.normalize_phone(getattr(item, field)))
        except RuleViolation as exc:
            errors.append(RuleViolation(exc.message, field))
    for field in ("party_a_representative", "party_b_representative", "termination_reason"):
        setattr(item, field, (getattr(item, field) or "").strip() or None)
    if item.status in ("signed", "terminated"):
        if item.signed_on is None:
            errors.append(RuleViolation("已签订的协议须填写签订日期", "signed_on", "A12"))
        elif item.signed_on > date.today():
            errors.append(RuleViolation("签订日期不能晚于今天", "signed_on"))
        for field, label in (("party_a_representative", "甲方代表"),
                             ("party_b_representative", "乙方代表")):
            if not getattr(item, field):
                errors.append(RuleViolation(f"已签订的协议须填写{label}", field, "A12"))
    if item.status == "terminated":
        if item.terminated_on is None:
            errors.append(RuleViolation("终止协议须填写终止日期", "terminated_on"))
        elif item.signed_on and item.terminated_on <= item.signed_on:
            errors.append(RuleViolation("终止日期须晚于签订日期", "terminated_on"))
        if not item.termination_reason:
            errors.append(RuleViolation("终止协议须填写终止原因", "termination_reason"))
    elif item.terminated_on is not None or item.termination_reason:
        errors.append(RuleViolation("未终止的协议不填终止日期和原因", "terminated_on"))
    if not is_new:
        old_status = _old(item, "status")
        if old_status in ("signed", "terminated"):
            locked = [LABELS[f] for f in SIGNED_CONTENT if _old(item, f) != getattr(item, f)]
            if _old(item, "document_no") != item.document_no:
                locked.insert(0, LABELS["document_no"])
            if _old(item, "enterprise_id") != _enterprise_id(item):
                locked.insert(0, LABELS["enterprise"])
            if locked:
                errors.append(RuleViolation(
                    f"协议已签订，不能修改{'、'.join(locked)}；内容变更须终止本协议后重新签订",
                    "status", "A12"))
            if (old_status, item.status) in (("signed", "draft"), ("terminated", "draft"),
                                              ("terminated", "signed")):
                errors.append(RuleViolation("已签订或已终止的协议不能退回原状态", "status"))
    if item.enterprise is not None and not path_in_scope(item.compute_region_path(),
                                                         current_scope()):
        errors.append(RuleViolation(f"{item.enterprise.name}不是本辖区注册的单位，"
                                    "其协议由所在区或市退管中心登记", "enterprise"))
    if errors:
        raise RuleViolations(errors)
    _check_unique(session, item)
    if is_new:
        item.created_by = actor
    item.updated_by = actor


def _check_unique(session, item: CityAgreement) -> None:
    """A document number is used once city-wide; an enterprise has at most one agreement
    in force at any time (checked past the user's scope)."""
    enterprise_id = _enterprise_id(item)
    errors = []
    with unscoped(), session.no_autoflush:
        clash = session.scalar(select(CityAgreement.id).where(
            CityAgreement.document_no == item.document_no,
            CityAgreement.id != (item.id or 0)))
        if clash is not None:
            errors.append(RuleViolation(f"协议编号{item.document_no}已存在", "document_no"))
        if item.status in ("signed", "terminated") and item.signed_on is not None:
            for other in session.scalars(select(CityAgreement).where(
                    CityAgreement.enterprise_id == enterprise_id,
                    CityAgreement.id != (item.id or 0),
                    CityAgreement.status.in_(("signed", "terminated")))):
                if other.signed_on and _overlaps(item.signed_on, item.terminated_on,
                                                 other.signed_on, other.terminated_on):
                    errors.append(RuleViolation(
                        f"该单位已有协议{other.document_no}（{other.signed_on.isoformat()}起）"
                        "在此期间有效；请先终止原协议", "signed_on", "A12"))
    if errors:
        raise RuleViolations(errors)
