"""The rules of the Park agreement (P1–P4) and its answer to the A12 check.

P1: an insured unit registered in the Park (party A, with its unit number) signs with the
Park's service centre (party B). P2/P3: each side's duties become a checklist per
version. P4: a version is in force once both parties have signed and stamped it, with
representatives, phones and dates; a policy change makes a new version, and the old one
is kept unchanged, in force until the new one takes over.
"""
from __future__ import annotations

from datetime import date

from flask import g
from sqlalchemy import inspect, select

from core.errors import RuleViolation, RuleViolations
from core.registry import validators
from core.registry.models import Enterprise
from core.scoping import current_scope, path_in_scope, unscoped
from districts.industrial_park.models import (
    ParkAgreement,
    ParkAgreementDuty,
    ParkAgreementOriginal,
    ParkAgreementVersion,
    enterprise_district,
)
from districts.industrial_park.texts import (
    BASIS,
    DUTY_STATUS,
    ORIGINALS,
    PARK,
    PARTY_A_DUTIES,
    PARTY_B,
    PARTY_B_DUTIES,
    TITLE,
)

PARTIES = {"A": "甲方", "B": "乙方"}
# P4: what both parties sign; fixed once the version is in force.
SIGNED_CONTENT = {
    "basis": "政策依据", "revision_reason": "修订原因",
    "party_a_representative": "甲方代表", "party_a_phone": "甲方联系电话",
    "party_a_signed_on": "甲方签订日期", "party_a_signed": "甲方代表签字",
    "party_a_stamped": "甲方签章", "party_b_name": "乙方",
    "party_b_representative": "乙方代表", "party_b_phone": "乙方联系电话",
    "party_b_signed_on": "乙方签订日期", "party_b_signed": "乙方代表签字",
    "party_b_stamped": "乙方签章",
}


def is_park_enterprise(enterprise: Enterprise | None) -> bool:
    """P1: the unit is registered in the Industrial Park."""
    district = enterprise_district(enterprise) if enterprise is not None else None
    return district is not None and district.code == PARK


def _old(item, field: str):
    hist = inspect(item).attrs[field].history
    if hist.deleted:
        return hist.deleted[0]
    return hist.unchanged[0] if hist.unchanged else getattr(item, field)


def _in_scope(item) -> RuleViolation | None:
    if not path_in_scope(item.compute_region_path(), current_scope()):
        return RuleViolation("园区协议由园区退管中心（或市退管中心）办理，不在本辖区内", "enterprise")
    return None


# --- agreements and versions --------------------------------------------------------

def agreement_of(session, enterprise_id: int) -> ParkAgreement | None:
    with unscoped():
        return session.scalar(select(ParkAgreement)
                              .where(ParkAgreement.enterprise_id == enterprise_id))


def _duties(version: ParkAgreementVersion, previous: ParkAgreementVersion | None) -> None:
    """P2, P3: the checklists, from the previous version's texts (the standard texts for
    the first version); a duty whose text is unchanged keeps its status."""
    for party, standard in (("A", PARTY_A_DUTIES), ("B", PARTY_B_DUTIES)):
        before = {d.item_no: d for d in previous.duties_of(party)} if previous else {}
        texts = [d.text for d in sorted(before.values(), key=lambda d: d.item_no)] or standard
        for no, text in enumerate(texts, 1):
            duty = ParkAgreementDuty(version=version, party=party, item_no=no, text=text)
            old = before.get(no)
            if old is not None and old.text == text:
                duty.status, duty.done_on, duty.notes = old.status, old.done_on, old.notes
            else:
                duty.status = "pending"


def _originals(version: ParkAgreementVersion) -> None:
    """P4: three originals, one for party A, two for party B (one filed)."""
    for copy_no, holder, filed in ORIGINALS:
        ParkAgreementOriginal(version=version, copy_no=copy_no, holder=holder, filed=filed)


def prepare_agreement(session, item: ParkAgreement, actor: str) -> None:
    """P1: a new agreement for a Park unit, with its first version to sign."""
    errors = []
    item.agreement_no = (item.agreement_no or "").strip()
    if not item.agreement_no:
        errors.append(RuleViolation("请填写协议编号", "agreement_no"))
    enterprise = item.enterprise
    if enterprise is None:
        errors.append(RuleViolation("请选择甲方（参保单位）", "enterprise", "P1"))
    elif not is_park_enterprise(enterprise):
        errors.append(RuleViolation(
            f"{enterprise.name}不是工业园区的参保单位；园区协议只与园区参保单位签订",
            "enterprise", "P1"))
    else:
        existing = agreement_of(session, enterprise.id)
        if existing is not None and existing is not item:
            errors.append(RuleViolation(
                f"{enterprise.name}已有园区协议{existing.agreement_no}；政策调整请新建版本",
                "enterprise", "P4"))
        wrong = _in_scope(item)
        if wrong:
            errors.append(wrong)
    if item.agreement_no:
        with unscoped(), session.no_autoflush:
            if session.scalar(select(ParkAgreement.id).where(
                    ParkAgreement.agreement_no == item.agreement_no,
                    ParkAgreement.id != (item.id or 0))) is not None:
                errors.append(RuleViolation(f"协议编号{item.agreement_no}已存在", "agreement_no"))
    if errors:
        raise RuleViolations(errors)
    if item.id is None:
        item.created_by = actor
        version = ParkAgreementVersion(
            agreement=item, version_no=1, basis=BASIS, party_b_name=PARTY_B,
            party_a_name=enterprise.name, party_a_unit_no=enterprise.unit_no, created_by=actor)
        _duties(version, None)
        _originals(version)


def new_version(session, agreement: ParkAgreement, reason: str | None, basis: str | None,
                actor: str) -> ParkAgreementVersion:
    """P4: revise the agreement after a policy change. The new version starts as a draft
    with the latest version's parties and duties; the version in force stays in force
    until both parties have signed the new one."""
    reason = (reason or "").strip()
    errors = []
    if not reason:
        errors.append(RuleViolation("请填写修订原因（政策调整的文件或内容）", "revision_reason",
                                    "P4"))
    latest = agreement.latest_version
    if latest is not None and latest.status == "draft":
        errors.append(RuleViolation(
            f"第{latest.version_no}版尚未签订：请先签订或修改该版本", "revision_reason", "P4"))
    wrong = _in_scope(agreement)
    if wrong:
        errors.append(wrong)
    if errors:
        raise RuleViolations(errors)
    enterprise = agreement.enterprise
    version = ParkAgreementVersion(
        agreement=agreement, version_no=(latest.version_no if latest else 0) + 1,
        basis=(basis or "").strip() or (latest.basis if latest else BASIS),
        revision_reason=reason, party_a_name=enterprise.name, party_a_unit_no=enterprise.unit_no,
        party_b_name=latest.party_b_name if latest else PARTY_B, created_by=actor)
    if latest is not None:
        for field in ("party_a_representative", "party_a_phone", "party_b_representative",
                      "party_b_phone"):
            setattr(version, field, getattr(latest, field))
    _duties(version, latest)
    _originals(version)
    session.add(version)
    return version


def _complete(version: ParkAgreementVersion, party: str) -> bool:
    return all(getattr(version, f"party_{party}_{f}")
               for f in ("representative", "phone", "signed_on", "signed", "stamped"))


def prepare_version(session, version: ParkAgreementVersion, actor: str) -> None:
    """P4: check a version before it is saved; once both parties have signed and stamped
    it, with representatives, phones and dates, it comes into force on the later date
    and supersedes the version in force before it."""
    errors: list[RuleViolation] = []
    if _old(version, "status") != "draft":
        changed = [label for f, label in SIGNED_CONTENT.items()
                   if _old(version, f) != getattr(version, f)]
        if changed:
            raise RuleViolations([RuleViolation(
                f"第{version.version_no}版已签订生效，不能修改{'、'.join(changed)}；"
                "政策调整请新建版本，原版本保留", "status", "P4")])
        version.updated_by = actor
        return
    for party in ("a", "b"):
        field = f"party_{party}_phone"
        try:
            setattr(version, field, validators.normalize_phone(getattr(version, field)))
        except RuleViolation as exc:
            errors.append(RuleViolation(exc.message, field))
        rep = f"party_{party}_representative"
        setattr(version, rep, (getattr(version, rep) or "").strip() or None)
        signed_on = getattr(version, f"party_{party}_signed_on")
        if signed_on is not None and signed_on > date.today():
            errors.append(RuleViolation("签订日期不能晚于今天", f"party_{party}_signed_on"))
    version.basis = (version.basis or "").strip() or BASIS
    version.party_b_name = (version.party_b_name or "").strip() or PARTY_B
    version.revision_reason = (version.revision_reason or "").strip() or None
    if version.version_no > 1 and not version.revision_reason:
        errors.append(RuleViolation("修订版本须填写修订原因", "revision_reason", "P4"))
    enterprise = version.agreement.enterprise
    version.party_a_name, version.party_a_unit_no = enterprise.name, enterprise.unit_no
    if errors:
        raise RuleViolations(errors)
    version.updated_by = actor
    if _complete(version, "a") and _complete(version, "b"):
        _bring_into_force(version)


def _bring_into_force(version: ParkAgreementVersion) -> None:
    effective = max(version.party_a_signed_on, version.party_b_signed_on)
    previous = [v for v in version.agreement.versions
                if v is not version and v.status == "in_force"]
    for old in previous:
        if old.effective_from and effective <= old.effective_from:
            raise RuleViolations([RuleViolation(
                f"第{version.version_no}版的签订日期须晚于第{old.version_no}版的生效日期"
                f"{old.effective_from.isoformat()}", "party_b_signed_on", "P4")])
    version.status, version.effective_from = "in_force", effective
    for old in previous:
        old.status, old.superseded_on = "superseded", effective


# --- checklists and originals ---------------------------------------------------------

def prepare_duty(duty: ParkAgreementDuty, actor: str) -> None:
    """P2, P3: a duty's status; met duties carry the date; the text is the signed text."""
    errors = []
    if duty.status not in DUTY_STATUS:
        allowed = "、".join(f"{k}（{v}）" for k, v in DUTY_STATUS.items())
        errors.append(RuleViolation(f"落实情况无效，可选：{allowed}", "status"))
    if _old(duty, "text") != duty.text and duty.version.status != "draft":
        errors.append(RuleViolation("协议已签订，义务条款不能修改；政策调整请新建版本",
                                    "text", "P4"))
    duty.text = (duty.text or "").strip()
    if not duty.text:
        errors.append(RuleViolation("义务条款不能为空", "text"))
    if duty.status == "done":
        duty.done_on = duty.done_on or date.today()
        if duty.done_on > date.today():
            errors.append(RuleViolation("落实日期不能晚于今天", "done_on"))
    else:
        duty.done_on = None
    if errors:
        raise RuleViolations(errors)
    duty.updated_by = actor


def prepare_original(original: ParkAgreementOriginal, actor: str) -> None:
    """P4: an original is handed over (to party A, to party B, to B's file) only once the
    version is signed; the receiver is named; the filed copy carries its archive number."""
    errors = []
    original.received_by = (original.received_by or "").strip() or None
    original.archive_ref = (original.archive_ref or "").strip() or None
    if original.delivered_on is not None:
        if original.version.status == "draft":
            errors.append(RuleViolation("本版本尚未经双方签字盖章，正本不能交付",
                                        "delivered_on", "P4"))
        elif original.delivered_on > date.today():
            errors.append(RuleViolation("交付日期不能晚于今天", "delivered_on"))
        if not original.received_by:
            errors.append(RuleViolation("请填写接收人", "received_by", "P4"))
        if original.filed and not original.archive_ref:
            errors.append(RuleViolation("存档的正本须填写存档编号", "archive_ref", "P4"))
    elif original.received_by or original.archive_ref:
        errors.append(RuleViolation("请先填写交付日期", "delivered_on"))
    if not original.filed and original.archive_ref:
        errors.append(RuleViolation("只有乙方存档的一份填写存档编号", "archive_ref"))
    if errors:
        raise RuleViolations(errors)
    original.updated_by = actor


# --- A12 -------------------------------------------------------------------------------

def verdict(session, enterprise: Enterprise, on: date) -> bool | str | None:
    """A12 for Park units (P1): True when a version of the Park agreement is in force on
    ``on``; a message naming the unit and what is missing when none is; None for units
    not registered in the Park."""
    if not is_park_enterprise(enterprise):
        return None
    agreement = agreement_of(session, enterprise.id)
    if agreement is not None:
        with unscoped():
            if agreement.version_in_force(on) is not None:
                return True
            latest = agreement.latest_version
    message = (f"{enterprise.name}（单位编号{enterprise.unit_no}）尚未与{PARTY_B}签订有效的"
               f"《{TITLE}》，其退休人员暂不能纳入社会化管理，档案不予接收")
    if agreement is None:
        return message
    if latest is not None and latest.status == "draft":
        missing = [PARTIES[p.upper()] for p in ("a", "b") if not _complete(latest, p)]
        message += (f"：协议{agreement.agreement_no}第{latest.version_no}版尚待"
                    f"{'、'.join(missing)}签字盖章")
    elif latest is not None and latest.effective_from and latest.effective_from > on:
        message += f"：协议{agreement.agreement_no}自{latest.effective_from.isoformat()}起生效"
    return message


def park_actor_check() -> None:
    """Writes come from the Park's own staff or the city; a street or community clerk
    only reads."""
    region = getattr(g.get("ra_user"), "region", None)
    if region is not None and region.level not in ("city", "district"):
        raise RuleViolations([RuleViolation("园区协议由园区退管中心或市退管中心办理", "enterprise")])
