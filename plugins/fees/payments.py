"""A35, A36: recording a payment — who pays, from what, and what it settles.

A payment is made for one enterprise's assessment. It settles that enterprise's retiree
dues oldest first (so each retiree's fee shows as paid or not), counts towards the plan
in force instalment by instalment, and goes into the special account as fee income
(A38). A payment above what is owed is refused; a recorded payment is never edited.
"""
from __future__ import annotations

from datetime import date
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import RuleViolation, RuleViolations
from core.registry.fields import ENTERPRISE_STATUS
from core.registry.models import Enterprise
from plugins.fees.access import Actor, require
from plugins.fees.assessment import open_dues, outstanding_of, payer_of
from plugins.fees.fund import record_income
from plugins.fees.instalments import complete_if_paid
from plugins.fees.models import (
    FUNDING_SOURCES,
    PAYMENT_METHODS,
    FeePayment,
    FeeSettlement,
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


def record_payment(session: Session, actor: Actor, *, enterprise: Enterprise, amount,
                   paid_on: date, funding_source: str | None = None, method: str = "transfer",
                   reference: str | None = None, note: str | None = None) -> FeePayment:
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
