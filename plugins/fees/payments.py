"""A35, A36: recording a payment — who pays, from what, and what it settles.

A payment is made for one enterprise's assessment. It settles that enterprise's retiree
dues oldest first (so each retiree's fee shows as paid or not), counts towards the plan
in force instalment by instalment, and goes into the special account as fee income
(A38). A payment above what is owed is refused; a recorded payment is never edited.

Issue 14 item 16: a second payment with a bank reference already recorded is refused; one
for the same enterprise, amount and day is recorded only once the clerk confirms it is
not the same payment twice. A wrong payment is reversed (冲正) with a reason, by the
role that records payments: the dues, the plan's instalments and the special account
are given back, the payment and its income stay, a reversing entry is added to the
fund ledger and the event is audited.
"""
from __future__ import annotations

from datetime import date, datetime
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import RuleViolation, RuleViolations
from core.registry.fields import ENTERPRISE_STATUS
from core.registry.models import Enterprise
from plugins.fees.access import Actor, require
from plugins.fees.assessment import open_dues, outstanding_of, payer_of
from plugins.fees.fund import record_income, reverse_income
from plugins.fees.instalments import complete_if_paid, reopen_if_owing
from plugins.fees.models import (
    FUNDING_SOURCES,
    PAYMENT_METHODS,
    FeePayment,
    FeeSettlement,
    FundIncome,
    InstalmentPlan,
)
from plugins.fees.money import to_money, yuan


def check_payer(enterprise: Enterprise, funding_source: str | None) -> list[RuleViolation]:
    """A36: an enterprise that still trades pays itself, with no funding source; for a
    bankrupt, revoked, closed or restructured one the industry authority pays, from
    land-auction income or state-asset net income."""
    kind, name = payer_of(enterprise)
    source = (funding_source or "").strip() or None
    if kind == "enterprise":
        if source is not None:
            return [RuleViolation("正常经营的单位自行缴纳服务费，不填资金来源",
                                  "funding_source", "A36")]
        return []
    status = ENTERPRISE_STATUS.get(enterprise.status, enterprise.status)
    errors = []
    if not name:
        errors.append(RuleViolation(
            f"该单位已{status}，服务费由其行业主管部门缴纳，但单位未登记行业主管部门",
            "enterprise", "A36"))
    if source not in FUNDING_SOURCES:
        errors.append(RuleViolation(
            f"该单位已{status}，服务费由行业主管部门{name}缴纳，须注明资金来源："
            f"{'或'.join(FUNDING_SOURCES.values())}", "funding_source", "A36"))
    return errors


DUPLICATE_FIELD = "confirm_duplicate"


def _duplicates(session: Session, enterprise: Enterprise, value, paid_on: date,
                reference: str | None, confirmed: bool) -> list[RuleViolation]:
    """Issue 14 item 16: the same bank reference twice is refused; the same enterprise,
    amount and day asks the clerk to confirm. Reversed payments do not count."""
    live = FeePayment.reversed_at.is_(None)
    if reference:
        same = session.scalar(select(FeePayment).where(live, FeePayment.reference == reference))
        if same is not None:
            return [RuleViolation(
                f"银行流水号／票据号{reference}已登记过（收据{same.receipt_no}，"
                f"{same.paid_on:%Y-%m-%d}，{yuan(same.amount)}元），同一笔款不能重复登记",
                "reference", "A35")]
    if not confirmed and paid_on is not None:
        same = session.scalar(select(FeePayment).where(
            live, FeePayment.enterprise_id == enterprise.id, FeePayment.amount == value,
            FeePayment.paid_on == paid_on))
        if same is not None:
            return [RuleViolation(
                f"{paid_on:%Y-%m-%d}已登记该单位同样金额{yuan(value)}元的缴费（收据"
                f"{same.receipt_no}）。如确实是另一笔缴费，请勾选“确认不是重复登记”后再提交",
                DUPLICATE_FIELD, "A35")]
    return []


def record_payment(session: Session, actor: Actor, *, enterprise: Enterprise, amount,
                   paid_on: date, funding_source: str | None = None, method: str = "transfer",
                   reference: str | None = None, note: str | None = None,
                   confirm_duplicate: bool = False) -> FeePayment:
    """A35, A36: record a payment to the city service centre and apply it. The caller
    commits; on refusal nothing is written."""
    require(actor, "pay", "A35")
    errors: list[RuleViolation] = []
    try:
        value = to_money(amount)
    except ValueError as exc:
        raise RuleViolations([RuleViolation(str(exc), "amount", "A35")]) from exc
    if value <= 0:
        errors.append(RuleViolation("缴费金额须大于零", "amount", "A35"))
    if method not in PAYMENT_METHODS:
        errors.append(RuleViolation(f"未知的缴费方式：{method}", "method"))
    if paid_on is None or paid_on > date.today():
        errors.append(RuleViolation("缴费日期不能为空，也不能晚于今天", "paid_on"))
    errors += check_payer(enterprise, funding_source)
    if not errors:
        errors += _duplicates(session, enterprise, value, paid_on,
                              (reference or "").strip() or None, confirm_duplicate)
    owed = outstanding_of(session, enterprise.id)
    if value > owed:
        errors.append(RuleViolation(
            f"缴费金额{yuan(value)}元超过该单位欠缴的服务费{yuan(owed)}元", "amount", "A35"))
    if errors:
        raise RuleViolations(errors)
    kind, name = payer_of(enterprise)
    payment = FeePayment(receipt_no=f"tmp{uuid4().hex[:16]}", enterprise=enterprise,
                         payer_kind=kind, payer_name=name,
                         funding_source=(funding_source or "").strip() or None, amount=value,
                         paid_on=paid_on, method=method, reference=(reference or "").strip()
                         or None, note=(note or "").strip() or None,
                         recorded_by=actor.username)
    session.add(payment)
    session.flush()
    payment.receipt_no = f"SF{paid_on:%Y}{payment.id:08d}"
    _settle_dues(session, payment)
    _count_towards_plan(session, payment, actor)
    record_income(session, actor, source="fee", amount=value, received_on=paid_on,
                  from_name=name, payment=payment, note=f"收据{payment.receipt_no}")
    return payment


def _settle_dues(session: Session, payment: FeePayment) -> None:
    left = payment.amount
    for due in open_dues(session, payment.enterprise_id):
        if left <= 0:
            break
        part = min(left, due.outstanding)
        due.paid_amount += part
        left -= part
        session.add(FeeSettlement(payment=payment, due=due, amount=part))


def _count_towards_plan(session: Session, payment: FeePayment, actor: Actor) -> None:
    plan = session.scalar(select(InstalmentPlan).where(
        InstalmentPlan.enterprise_id == payment.enterprise_id,
        InstalmentPlan.state == "signed"))
    if plan is None:
        return
    left = payment.amount
    for instalment in plan.instalments:
        if left <= 0:
            break
        part = min(left, instalment.outstanding)
        instalment.paid_amount += part
        left -= part
    complete_if_paid(session, plan, actor)


def reverse_payment(session: Session, actor: Actor, payment: FeePayment, reason: str | None,
                    on: date | None = None) -> FeePayment:
    """Issue 14 item 16, A35, A38: reverse (冲正) a wrong payment, by the role that records
    payments, with a reason. What it settled is owed again (dues, then the plan's
    instalments, latest first), the special account gives the amount back through a
    reversing entry (refused if the account no longer holds it), and the payment and its
    income stay, marked reversed. The caller commits and audits."""
    require(actor, "pay", "A35")
    errors = []
    if payment.reversed:
        errors.append(RuleViolation(
            f"收据{payment.receipt_no}已于{payment.reversed_at:%Y-%m-%d %H:%M}冲正，不能重复冲正",
            "state", "A35"))
    if not (reason or "").strip():
        errors.append(RuleViolation("请填写冲正原因", "reason", "A35"))
    if errors:
        raise RuleViolations(errors)
    for settlement in session.execute(select(FeeSettlement).where(
            FeeSettlement.payment_id == payment.id)).scalars():
        settlement.due.paid_amount -= settlement.amount
    _uncount_from_plan(session, payment, actor, reason.strip())
    income = session.scalar(select(FundIncome).where(FundIncome.payment_id == payment.id))
    reverse_income(session, actor, income, reason.strip(), on or date.today())
    payment.reversed_by, payment.reversed_at = actor.username, datetime.now()
    payment.reversal_reason = reason.strip()
    return payment


def audit_reversal(payment: FeePayment) -> None:
    """Issue 14 item 16: the reversal as its own audit event (besides the row changes
    every model change leaves in the trail). Called after the commit."""
    from core.audit.trail import record

    record("reverse", "success", "FeePayment", payment.id,
           {"receipt_no": payment.receipt_no, "amount": str(payment.amount),
            "reason": payment.reversal_reason})


def _uncount_from_plan(session: Session, payment: FeePayment, actor: Actor, reason: str) -> None:
    """A payment counted towards the plan that was in force when it was recorded."""
    plan = session.scalar(select(InstalmentPlan).where(
        InstalmentPlan.enterprise_id == payment.enterprise_id,
        InstalmentPlan.state.in_(("signed", "completed"))))
    signed_at = next((t.at for t in plan.transitions if t.to_state == "signed"), None) \
        if plan is not None else None
    if signed_at is None or signed_at > payment.recorded_at:
        return
    left = payment.amount
    for instalment in reversed(plan.instalments):
        if left <= 0:
            break
        part = min(left, instalment.paid_amount)
        instalment.paid_amount -= part
        left -= part
    reopen_if_owing(session, plan, actor, f"收据{payment.receipt_no}冲正：{reason}")
