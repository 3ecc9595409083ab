"""A33 rules: who may approve a release request, and what an export needs."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from core.audit.trail import record
from core.errors import RuleViolation
from core.release.models import UNMASKABLE, ReleaseRequest

HOW_TO_APPLY = ("请先在“数据安全 → 数据提供申请”中提交申请（用途、接收单位或个人、数据范围、"
                "不脱敏字段、行数上限），经市退管中心或本区退管中心批准后，凭申请编号导出。")


class ReleaseRequired(RuleViolation):
    """An export that needs an approved release request it does not have."""

    def __init__(self, message: str):
        super().__init__(f"{message}{HOW_TO_APPLY}", "release", "A33")


def new_number() -> str:
    return f"A33-{datetime.now():%Y%m%d}-{secrets.token_hex(3).upper()}"


def check_new(req: ReleaseRequest) -> None:
    errors = []
    if not (req.purpose or "").strip():
        errors.append("请填写用途")
    if not (req.recipient or "").strip():
        errors.append("请填写接收单位或个人")
    if req.region is None:
        errors.append("请选择数据范围（区域）")
    if not req.row_cap or req.row_cap < 1:
        errors.append("行数上限须为正整数")
    unknown = req.field_set - set(UNMASKABLE)
    if unknown:
        errors.append(f"未知字段：{'、'.join(sorted(unknown))}")
    if errors:
        raise RuleViolation("；".join(errors), None, "A33")


def decide(req: ReleaseRequest, approver, approve: bool, note: str | None = None) -> None:
    """A33: the city centre approves any request; a district centre those for its own
    district. Nobody decides on their own request; a decision is final."""
    region = getattr(approver, "region", None)
    if req.status != "pending":
        raise RuleViolation("该申请已审批，不能再次审批", None, "A33")
    if approver is None or region is None or region.level not in ("city", "district"):
        raise RuleViolation("只有市退管中心或区退管中心可以审批数据提供申请", None, "A33")
    if not (req.region_path or "").startswith(region.region_path):
        raise RuleViolation("区退管中心只能审批本区的数据提供申请", None, "A33")
    if approver.username == req.requester:
        raise RuleViolation("不能审批本人提交的申请", None, "A33")
    now = datetime.now()
    req.status = "approved" if approve else "rejected"
    req.decided_by = approver.username
    req.decided_at = now
    req.decision_note = note
    if approve:
        req.valid_until = now + timedelta(days=current_app.config["RELEASE_VALID_DAYS"])


def find_approved(session, number: str) -> ReleaseRequest:
    """The approved, unexpired request with this number within the user's scope."""
    req = session.scalar(select(ReleaseRequest).where(
        ReleaseRequest.number == (number or "").strip()))
    if req is None or req.status != "approved":
        raise ReleaseRequired(f"数据提供申请 {number} 不存在、不在本辖区或未获批准。")
    if req.valid_until is not None and req.valid_until < datetime.now():
        raise ReleaseRequired(f"数据提供申请 {number} 已过期。")
    return req


def authorize_export(req: ReleaseRequest | None, rows: int, unmasked: set[str]) -> None:
    """Refuse an export that needs an approved request: more than RELEASE_FREE_ROWS rows,
    or any field in clear; with a request: within its row cap and its fields."""
    free = current_app.config["RELEASE_FREE_ROWS"]
    if req is None:
        if unmasked:
            raise ReleaseRequired("导出不脱敏的身份证号、电话或健康信息须经批准。")
        if rows > free:
            raise ReleaseRequired(f"一次导出超过 {free} 条须经批准（本次 {rows} 条）。")
        return
    if rows > req.row_cap:
        raise ReleaseRequired(f"本次导出 {rows} 条，超过申请 {req.number} 批准的上限 "
                              f"{req.row_cap} 条。")
    extra = unmasked - req.field_set
    if extra:
        raise ReleaseRequired(f"申请 {req.number} 未批准导出：{'、'.join(sorted(extra))}。")


def watermark(req: ReleaseRequest, actor: str) -> str:
    return (f"数据提供申请编号：{req.number}；接收方：{req.recipient}；用途：{req.purpose}；"
            f"批准人：{req.decided_by}（{req.decided_at:%Y-%m-%d}）；导出人：{actor}"
            f"（{datetime.now():%Y-%m-%d %H:%M}）")


def record_release(req: ReleaseRequest | None, rows: int, kind: str) -> None:
    """Audit an export, and the release when it went out under a request."""
    record("export", object_type=kind, detail={
        "rows": rows, "release": req.number if req else None})
    if req is not None:
        record("release", object_type="ReleaseRequest", object_id=req.id, detail={
            "number": req.number, "rows": rows, "recipient": req.recipient,
            "fields": sorted(req.field_set)})


def open_export(session, query, path_column, number: str | None, kind: str):
    """Check an export of ``query`` before writing it: with ``number``, the rows are
    limited to the request's region. Returns (query, request or None, options for the
    writer); a refusal is audited and raised as ReleaseRequired."""
    try:
        req = find_approved(session, number) if number else None
        if req is not None:
            query = query.filter(path_column.startswith(req.region_path, autoescape=True))
        rows = query.order_by(None).count()
        authorize_export(req, rows, set())
    except RuleViolation as exc:
        record("export", "denied", kind, detail={"release": number, "reason": exc.message})
        raise
    fields = req.field_set if req is not None else set()
    options = {"unmasked": frozenset(fields & {"id_card_no", "phone"}),
               "health": health_visible() if req is None else "health" in fields}
    return query, req, options


def health_visible() -> bool:
    """PIPL: health and illness fields are for the roles that need them (the virtual
    permission ``can_read`` on ``RetireeHealth``: staff and administrators, not
    supervisors)."""
    from flask import current_app, has_request_context

    if not has_request_context():
        return True
    return current_app.appbuilder.sm.has_access("can_read", "RetireeHealth")


def unmask_allowed() -> bool:
    """PIPL: whether the user may see a person's full ID number and phone (the
    permission ``can_unmask`` of ``/retiree-unmask``: staff and administrators, not
    supervisors). Printing the full form and correcting the numbers need it too."""
    from flask import current_app

    return current_app.appbuilder.sm.has_access("can_unmask", "RetireeUnmaskView")
