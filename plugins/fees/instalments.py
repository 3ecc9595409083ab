"""A36: hardship instalment plans — the schedule and its rules, and the steps of a plan.

Steps, each a recorded transition by the right office (see access.py):
applied (written application through the industry authority, with the document) →
reviewed (city service centre) → approved (city labour department) → signed (agreement
signed; the plan is in force) → completed (all paid). An application may be rejected
at review or at approval.

Schedule: at most three years; year 1 at least 50 % of the total; year 2 at least 30 %
of the total, or all that remains if that is less; year 3 the rest. Instalment *n* is
due on the last day of plan year *n*.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import RuleViolation, RuleViolations
from core.registry.models import Enterprise
from plugins.fees.access import Actor, may, require
from plugins.fees.assessment import outstanding_of
from plugins.fees.models import Instalment, InstalmentPlan, InstalmentTransition
from plugins.fees.money import ZERO, percent_of, to_money, yuan

MAX_YEARS = 3
YEAR_ONE_PERCENT = 50
YEAR_TWO_PERCENT = 30
OPEN_STATES = ("applied", "reviewed", "approved", "signed")


@dataclass(frozen=True)
class Line:
    seq: int
    due_on: date
    amount: Decimal


def _add_years(d: date, years: int) -> date:
    if d.year + years > MAXYEAR:
        raise RuleViolations([RuleViolation(f"开始日期过晚：{d.year + years}年超出日期范围",
                                            "start_on", "A36")])
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def due_date(start_on: date, seq: int) -> date:
    """The last day of plan year ``seq``."""
    return _add_years(start_on, seq) - timedelta(days=1)


def generate_schedule(total: Decimal, years: int, start_on: date) -> list[Line]:
    """A36: the least the rules allow in the early years — 50 %, then 30 % (or the rest),
    then the rest — each rounded up to the fen; the years asked for, at most three."""
    total = to_money(total)
    _check_years(years)
    if years == 1:
        amounts = [total]
    else:
        first = percent_of(total, YEAR_ONE_PERCENT)
        if years == 2:
            amounts = [first, total - first]
        else:
            second = min(percent_of(total, YEAR_TWO_PERCENT), total - first)
            amounts = [first, second, total - first - second]
    amounts = [a for a in amounts if a > 0]
    return [Line(i, due_date(start_on, i), a) for i, a in enumerate(amounts, start=1)]


def _check_years(years: int) -> None:
    if not isinstance(years, int) or years < 1 or years > MAX_YEARS:
        raise RuleViolations([RuleViolation(
            f"分期缴费最长不超过三年：申请为{years}年", "years", "A36")])


def validate_schedule(total: Decimal, amounts: list[Decimal]) -> list[RuleViolation]:
    """A36: every broken rule of a proposed schedule, each with a message naming it."""
    errors: list[RuleViolation] = []
    if total <= 0:
        return [RuleViolation("应缴总额须大于零", "total", "A36")]
    if len(amounts) > MAX_YEARS:
        errors.append(RuleViolation(
            f"分期缴费最长不超过三年：计划分{len(amounts)}年", "amounts", "A36"))
    if not amounts:
        return [RuleViolation("请填写各年缴费金额", "amounts", "A36")]
    if any(a <= 0 for a in amounts):
        errors.append(RuleViolation("各年缴费金额须大于零", "amounts", "A36"))
    first_min = percent_of(total, YEAR_ONE_PERCENT)
    if amounts[0] < first_min:
        errors.append(RuleViolation(
            f"第一年缴费不得少于应缴总额的50%：总额{yuan(total)}元，第一年至少"
            f"{yuan(first_min)}元，计划为{yuan(amounts[0])}元", "amounts", "A36"))
    if len(amounts) >= 2:
        remaining = total - amounts[0]
        second_min = min(percent_of(total, YEAR_TWO_PERCENT), remaining)
        if amounts[1] < second_min:
            errors.append(RuleViolation(
                f"第二年缴费不得少于应缴总额的30%，余额不足30%的须全部缴清：第二年至少"
                f"{yuan(second_min)}元，计划为{yuan(amounts[1])}元", "amounts", "A36"))
    planned = sum(amounts, ZERO)
    if planned != total:
        errors.append(RuleViolation(
            f"第三年缴清余款：各年合计{yuan(planned)}元，须等于应缴总额{yuan(total)}元",
            "amounts", "A36"))
    return errors


def build_lines(total: Decimal, years: int, start_on: date,
                amounts: list | None) -> list[Line]:
    """The generated schedule, or the one proposed (``amounts``), validated."""
    _check_years(years)
    try:
        total = to_money(total)
    except ValueError as exc:
        raise RuleViolations([RuleViolation(str(exc), "total", "A36")]) from exc
    if not amounts:
        parsed = [ln.amount for ln in generate_schedule(total, years, start_on)]
    else:
        try:
            parsed = [to_money(a) for a in amounts]
        except ValueError as exc:
            raise RuleViolations([RuleViolation(str(exc), "amounts", "A36")]) from exc
        if len(parsed) != years and len(parsed) <= MAX_YEARS:
            raise RuleViolations([RuleViolation(
                f"分{years}年缴费须填写{years}个年度金额", "amounts", "A36")])
    errors = validate_schedule(total, parsed)
    if errors:  # before the due dates: a proposal may have more years than dates reach
        raise RuleViolations(errors)
    return [Line(i, due_date(start_on, i), a) for i, a in enumerate(parsed, start=1)]


# --- the plan's steps ---------------------------------------------------------------

def _record(session: Session, plan: InstalmentPlan, actor: Actor, office: str,
            to_state: str, note: str | None) -> None:
    session.add(InstalmentTransition(
        plan=plan, from_state=plan.state if plan.id else None, to_state=to_state,
        actor=actor.username, actor_role=actor.role, acting_for=office,
        note=(note or "").strip() or None, at=datetime.now()))
    plan.state = to_state


def apply_for_plan(session: Session, actor: Actor, enterprise: Enterprise, *, years: int,
                   start_on: date, document: bytes | None, document_name: str | None,
                   document_type: str | None = None, amounts: list | None = None,
                   application_no: str | None = None, note: str | None = None
                   ) -> InstalmentPlan:
    """A36: record an enterprise's written application, received through its industry
    authority, for the fee it owes now. Refused with every broken rule named."""
    office = require(actor, "apply", "A36")
    errors: list[RuleViolation] = []
    authority = (enterprise.industry_authority or "").strip()
    if not authority:
        errors.append(RuleViolation(
            "分期缴费须由行业主管部门提出书面申请：该单位未登记行业主管部门",
            "enterprise", "A36"))
    if not document or not (document_name or "").strip():
        errors.append(RuleViolation("请上传经行业主管部门提出的书面申请", "document", "A36"))
    if session.scalar(select(InstalmentPlan.id).where(
            InstalmentPlan.enterprise_id == enterprise.id,
            InstalmentPlan.state.in_(OPEN_STATES))) is not None:
        errors.append(RuleViolation("该单位已有办理中或执行中的分期缴费计划", "enterprise", "A36"))
    total = outstanding_of(session, enterprise.id)
    if total <= 0:
        errors.append(RuleViolation("该单位没有欠缴的社会化管理服务费，无需分期", "enterprise", "A36"))
    if errors:
        raise RuleViolations(errors)
    lines = build_lines(total, years, start_on, amounts)
    plan = InstalmentPlan(enterprise=enterprise, submitted_via=authority,
                          application_no=(application_no or "").strip() or None,
                          document=document, document_name=document_name.strip(),
                          document_type=document_type, total=total, years=len(lines),
                          start_on=start_on, state="applied")
    plan.instalments = [Instalment(seq=ln.seq, due_on=ln.due_on, amount=ln.amount,
                                   paid_amount=ZERO) for ln in lines]
    session.add(plan)
    _record(session, plan, actor, f"{office}（经{authority}提出）", "applied", note)
    return plan


ACTIONS = {
    # action: (from states, to state, step whose role it needs)
    "review": (("applied",), "reviewed", "review"),
    "approve": (("reviewed",), "approved", "approve"),
    "sign": (("approved",), "signed", "sign"),
    "reject": (("applied", "reviewed"), "rejected", None),
}
ACTION_TITLES = {"review": "审核通过", "approve": "批准", "sign": "签订协议", "reject": "不予批准"}


def step_of(plan: InstalmentPlan, action: str) -> str:
    """The role step an action needs (a rejection: the step pending in the plan's state)."""
    step = ACTIONS[action][2]
    if step is None:
        return "review" if plan.state == "applied" else "approve"
    return step


def allowed_actions(plan: InstalmentPlan, actor: Actor) -> list[str]:
    """A36, issue 14 item 3: the actions ``actor`` may take on ``plan`` in its current
    state (state and role; the reviewer is never offered the approval)."""
    reviewer = next((t.actor for t in plan.transitions if t.to_state == "reviewed"), None)
    return [action for action, (sources, _target, _step) in ACTIONS.items()
            if plan.state in sources and may(actor, step_of(plan, action))
            and not (step_of(plan, action) == "approve" and reviewer == actor.username)]


def transition(session: Session, actor: Actor, plan: InstalmentPlan, action: str, *,
               note: str | None = None, approval_no: str | None = None,
               agreement_no: str | None = None, signed_on: date | None = None) -> None:
    """A36: take one step of the plan, by the office whose step it is; refused (nothing
    changes) from the wrong state, by the wrong role, or without what the step needs."""
    if action not in ACTIONS:
        raise RuleViolations([RuleViolation(f"未知的操作：{action}", "action")])
    sources, target, step = ACTIONS[action]
    if plan.state not in sources:
        raise RuleViolations([RuleViolation(
            f"计划当前状态为“{plan.state_label}”，不能{ACTION_TITLES[action]}", "state", "A36")])
    step = step_of(plan, action)  # reject: by whoever takes the pending step
    office = require(actor, step, "A36")
    errors: list[RuleViolation] = []
    if action == "reject" and not (note or "").strip():
        errors.append(RuleViolation("请填写不予批准的理由", "note", "A36"))
    if action == "approve":
        if not (approval_no or "").strip():
            errors.append(RuleViolation("请填写市劳动保障部门的批准文号", "approval_no", "A36"))
        reviewer = next((t.actor for t in plan.transitions if t.to_state == "reviewed"), None)
        if reviewer == actor.username:
            errors.append(RuleViolation("审核与审批须由不同的人员办理", "state", "A36"))
    if action == "sign":
        if not (agreement_no or "").strip():
            errors.append(RuleViolation("请填写分期缴费协议编号", "agreement_no", "A36"))
        if signed_on is None:
            errors.append(RuleViolation("请填写协议签订日期", "signed_on", "A36"))
        if outstanding_of(session, plan.enterprise_id) < plan.total:
            errors.append(RuleViolation(
                "申请后该单位欠费已减少，计划总额与欠费不符，请重新申请", "total", "A36"))
        errors += validate_schedule(plan.total, [i.amount for i in plan.instalments])
    if errors:
        raise RuleViolations(errors)
    if action == "approve":
        plan.approval_no = approval_no.strip()
    if action == "sign":
        plan.agreement_no, plan.signed_on = agreement_no.strip(), signed_on
    _record(session, plan, actor, office, target, note)


def complete_if_paid(session: Session, plan: InstalmentPlan, actor: Actor) -> None:
    if plan.state == "signed" and all(i.outstanding == 0 for i in plan.instalments):
        _record(session, plan, actor, "系统", "completed", "各期均已缴清")


def reopen_if_owing(session: Session, plan: InstalmentPlan, actor: Actor, note: str) -> None:
    """Issue 14 item 16: a completed plan whose payment was reversed is in force again."""
    if plan.state == "completed" and any(i.outstanding > 0 for i in plan.instalments):
        _record(session, plan, actor, "系统", "signed", note)


def overdue_instalments(session: Session, on: date | None = None) -> list[Instalment]:
    """A36: instalments of plans in force past their due date and not paid in full."""
    on = on or date.today()
    return list(session.execute(
        select(Instalment).join(InstalmentPlan)
        .where(InstalmentPlan.state == "signed", Instalment.due_on < on,
               Instalment.paid_amount < Instalment.amount)
        .order_by(Instalment.due_on, Instalment.id)).scalars())
