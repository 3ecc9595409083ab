"""A37–A39: the fund — the fiscal special account and each service organisation's book.

收支两条线 (A38): income (fees, donations, sponsorship) and spending are separate
tables; income is never netted against spending and is never negative; money leaves the
special account only as an allocation to a service organisation (A39) that the labour
department approved and finance checked, and an organisation spends only from its own
book, on an A34 purpose. Every debit is one conditional UPDATE (``balance >= amount``)
and the table refuses a negative balance, so no balance can go below zero, even with
two clerks at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.errors import RuleViolation, RuleViolations
from core.regions import Region
from core.registry.models import Retiree
from core.scoping import unscoped
from plugins.fees.access import Actor, may, require
from plugins.fees.models import (
    INCOME_SOURCES,
    PURPOSES,
    FeePayment,
    FundAccount,
    FundAllocation,
    FundBookEntry,
    FundIncome,
    FundReversal,
)
from plugins.fees.money import ZERO, to_money, yuan

SPECIAL = "special"
REVERSAL_LABEL = "服务费冲正（退回）"
SERVICE_LEVELS = ("district", "street", "community")


def _refuse(message: str, field_name: str, rule: str) -> RuleViolations:
    return RuleViolations([RuleViolation(message, field_name, rule)])


def special_account(session: Session) -> FundAccount:
    """A38: the fiscal special account (财政专户), created on first use."""
    account = session.scalar(select(FundAccount).where(FundAccount.code == SPECIAL))
    if account is None:
        account = FundAccount(code=SPECIAL, name="社会化管理服务费财政专户", balance=ZERO)
        session.add(account)
        session.flush()
    return account


def book_of(session: Session, organisation: Region) -> FundAccount:
    """A39: a service organisation's own book, created on first use."""
    account = session.scalar(select(FundAccount).where(
        FundAccount.organisation_id == organisation.id))
    if account is None:
        account = FundAccount(code=organisation.code, organisation=organisation,
                              name=f"{organisation.full_name}退管经费账", balance=ZERO)
        session.add(account)
        session.flush()
    return account


def _credit(session: Session, account: FundAccount, amount: Decimal) -> None:
    session.execute(update(FundAccount).where(FundAccount.id == account.id)
                    .values(balance=FundAccount.balance + amount)
                    .execution_options(synchronize_session=False))
    session.expire(account, ["balance"])


def _debit(session: Session, account: FundAccount, amount: Decimal, rule: str) -> None:
    """A39: take ``amount`` only if the balance covers it (atomic)."""
    done = session.execute(update(FundAccount)
                           .where(FundAccount.id == account.id, FundAccount.balance >= amount)
                           .values(balance=FundAccount.balance - amount)
                           .execution_options(synchronize_session=False)).rowcount
    session.expire(account, ["balance"])
    if done != 1:
        raise _refuse(f"{account.name}余额{yuan(account.balance)}元，不足以支出{yuan(amount)}元，"
                      f"余额不能为负（{rule}）", "amount", rule)


def _amount(value, field_name: str = "amount") -> Decimal:
    try:
        amount = to_money(value)
    except ValueError as exc:
        raise _refuse(str(exc), field_name, "A38") from exc
    if amount <= 0:
        raise _refuse("金额须大于零（收入与支出分别登记，不以负数冲抵）", field_name, "A38")
    return amount


# --- income (A37, A38) ----------------------------------------------------------------

def record_income(session: Session, actor: Actor, *, source: str, amount, received_on: date,
                  from_name: str, note: str | None = None,
                  payment: FeePayment | None = None) -> FundIncome:
    """A37, A38: money into the special account — a fee payment (recorded with it),
    a donation or a sponsorship."""
    if payment is None:
        require(actor, "income", "A37")
        if source not in ("donation", "sponsorship"):
            raise _refuse("专户收入只登记捐赠、赞助；服务费收入随缴费登记自动入账",
                          "source", "A38")
    elif source != "fee":
        raise _refuse("服务费收入的来源须为“社会化管理服务费”", "source", "A38")
    if source not in INCOME_SOURCES:
        raise _refuse(f"未知的收入来源：{source}", "source", "A38")
    value = _amount(amount)
    if not (from_name or "").strip():
        raise _refuse("请填写缴款或捐赠单位（个人）", "from_name", "A37")
    income = FundIncome(source=source, amount=value, received_on=received_on,
                        from_name=from_name.strip(), payment=payment,
                        note=(note or "").strip() or None, recorded_by=actor.username)
    session.add(income)
    _credit(session, special_account(session), value)
    return income


def reverse_income(session: Session, actor: Actor, income: FundIncome, reason: str,
                   on: date) -> FundReversal:
    """Issue 14 item 16, A38: the reversing entry of a fee income. The income stays;
    the special account gives the amount back, never below zero (A39)."""
    _debit(session, special_account(session), income.amount, "A38")
    entry = FundReversal(income=income, amount=income.amount, reversed_on=on, reason=reason,
                         recorded_by=actor.username)
    session.add(entry)
    return entry


# --- allocations (A39) ------------------------------------------------------------------

def retirees_managed(session: Session, organisation: Region) -> int:
    """The need basis: retirees the organisation manages (its subtree), city-wide count."""
    with unscoped():
        return session.scalar(select(func.count(Retiree.id)).where(
            Retiree.region_path.startswith(organisation.region_path),
            Retiree.management_state.in_(("employer_managed", "community_managed")))) or 0


def request_allocation(session: Session, actor: Actor, *, organisation: Region, purpose: str,
                       amount, need: str, note: str | None = None) -> FundAllocation:
    """A39: a service organisation's request for funds, by need (the statement and the
    number of retirees it manages). Made by the organisation (its scope) or the centre."""
    errors = []
    if organisation is None or organisation.level not in SERVICE_LEVELS:
        errors.append(RuleViolation("拨付对象须为区退管中心、街道或社区服务机构",
                                    "organisation", "A39"))
    if purpose not in PURPOSES:
        errors.append(RuleViolation("用途须为信息库与档案管理、走访慰问或组织活动",
                                    "purpose", "A34"))
    if not (need or "").strip():
        errors.append(RuleViolation("请说明经费需求（按需拨付）", "need", "A39"))
    if errors:
        raise RuleViolations(errors)
    allocation = FundAllocation(
        organisation=organisation, purpose=purpose, amount=_amount(amount), need=need.strip(),
        retirees_managed=retirees_managed(session, organisation), state="requested",
        requested_by=actor.username, note=(note or "").strip() or None)
    session.add(allocation)
    return allocation


def approve_allocation(session: Session, actor: Actor, allocation: FundAllocation,
                       approval_no: str) -> None:
    """A39: the labour department approves the allocation."""
    require(actor, "allocation_approve", "A39")
    if allocation.state != "requested":
        raise _refuse(f"拨付状态为“{allocation.state_label}”，不能批准", "state", "A39")
    if not (approval_no or "").strip():
        raise _refuse("请填写劳动保障部门批准文号", "approval_no", "A39")
    allocation.state, allocation.approval_no = "approved", approval_no.strip()
    allocation.approved_by, allocation.approved_at = actor.username, datetime.now()


def reject_allocation(session: Session, actor: Actor, allocation: FundAllocation,
                      note: str) -> None:
    step = "allocation_approve" if allocation.state == "requested" else "allocation_check"
    require(actor, step, "A39")
    if allocation.state not in ("requested", "approved"):
        raise _refuse(f"拨付状态为“{allocation.state_label}”，不能退回", "state", "A39")
    if not (note or "").strip():
        raise _refuse("请填写不予拨付的理由", "note", "A39")
    allocation.state, allocation.note = "rejected", note.strip()


def allowed_allocation_steps(allocation: FundAllocation, actor: Actor) -> list[str]:
    """A39, issue 14 item 3: the steps ``actor`` may take on ``allocation`` in its state
    (the approver is never offered the check)."""
    steps = []
    if allocation.state == "requested" and may(actor, "allocation_approve"):
        steps += ["approve", "reject"]
    if allocation.state == "approved" and may(actor, "allocation_check"):
        if allocation.approved_by != actor.username:
            steps.append("check")
        steps.append("reject")
    return steps


def check_allocation(session: Session, actor: Actor, allocation: FundAllocation,
                     on: date | None = None) -> FundBookEntry:
    """A39: finance checks the approved allocation; the money moves from the special
    account into the organisation's book — only if the special account covers it."""
    require(actor, "allocation_check", "A39")
    if allocation.state != "approved":
        raise _refuse(f"拨付须先经劳动保障部门批准（当前：{allocation.state_label}）", "state", "A39")
    if allocation.approved_by == actor.username:
        raise _refuse("批准与核拨须由不同部门的人员办理", "state", "A39")
    on = on or date.today()
    _debit(session, special_account(session), allocation.amount, "A39")
    book = book_of(session, allocation.organisation)
    _credit(session, book, allocation.amount)
    entry = FundBookEntry(account=book, kind="receipt", purpose=allocation.purpose,
                          amount=allocation.amount, entry_on=on, allocation=allocation,
                          note=f"专户拨入（批准文号{allocation.approval_no}）",
                          recorded_by=actor.username)
    session.add(entry)
    allocation.state, allocation.checked_by = "checked", actor.username
    allocation.checked_at, allocation.checked_on = datetime.now(), on
    return entry


def record_expense(session: Session, actor: Actor, *, organisation: Region, purpose: str,
                   amount, entry_on: date, note: str | None) -> FundBookEntry:
    """A39: an organisation spends from its own book, on an A34 purpose only (no
    diversion), never below zero."""
    if purpose not in PURPOSES:
        raise _refuse("经费只能用于信息库与档案管理、走访慰问、组织活动，专款专用",
                      "purpose", "A39")
    if not (note or "").strip():
        raise _refuse("请填写支出事由", "note", "A39")
    value = _amount(amount)
    book = book_of(session, organisation)
    _debit(session, book, value, "A39")
    entry = FundBookEntry(account=book, kind="expense", purpose=purpose, amount=value,
                          entry_on=entry_on, note=note.strip(), recorded_by=actor.username)
    session.add(entry)
    return entry


# --- period report (A38) ----------------------------------------------------------------

@dataclass
class BookLine:
    name: str
    opening: Decimal
    received: Decimal
    spent: Decimal

    @property
    def closing(self) -> Decimal:
        return self.opening + self.received - self.spent


@dataclass
class PeriodReport:
    date_from: date
    date_to: date
    opening: Decimal = ZERO
    income: dict[str, Decimal] = field(default_factory=dict)
    spending: dict[str, Decimal] = field(default_factory=dict)
    books: list[BookLine] = field(default_factory=list)

    @property
    def income_total(self) -> Decimal:
        return sum(self.income.values(), ZERO)

    @property
    def spending_total(self) -> Decimal:
        return sum(self.spending.values(), ZERO)

    @property
    def closing(self) -> Decimal:
        return self.opening + self.income_total - self.spending_total


def _sum(session, column, *where) -> Decimal:
    return session.scalar(select(func.coalesce(func.sum(column), ZERO)).where(*where)) or ZERO


def period_report(session: Session, date_from: date, date_to: date) -> PeriodReport:
    """A38: the special account's income by source and spending by purpose, kept apart,
    with opening and closing balances; and each organisation's book (as far as the
    user's scope reaches)."""
    r = PeriodReport(date_from, date_to)
    checked = FundAllocation.state == "checked"
    r.opening = (_sum(session, FundIncome.amount, FundIncome.received_on < date_from)
                 - _sum(session, FundReversal.amount, FundReversal.reversed_on < date_from)
                 - _sum(session, FundAllocation.amount, checked,
                        FundAllocation.checked_on < date_from))
    for source, total in session.execute(
            select(FundIncome.source, func.sum(FundIncome.amount))
            .where(FundIncome.received_on.between(date_from, date_to))
            .group_by(FundIncome.source)).all():
        r.income[INCOME_SOURCES.get(source, source)] = total
    reversed_total = _sum(session, FundReversal.amount,
                          FundReversal.reversed_on.between(date_from, date_to))
    if reversed_total:
        r.income[REVERSAL_LABEL] = -reversed_total
    for purpose, total in session.execute(
            select(FundAllocation.purpose, func.sum(FundAllocation.amount))
            .where(checked, FundAllocation.checked_on.between(date_from, date_to))
            .group_by(FundAllocation.purpose)).all():
        r.spending[PURPOSES.get(purpose, purpose)] = total
    accounts = session.execute(select(FundAccount).where(FundAccount.code != SPECIAL)
                               .order_by(FundAccount.code)).scalars().all()
    for account in accounts:
        def part(kind, *where, _a=account):
            return _sum(session, FundBookEntry.amount, FundBookEntry.account_id == _a.id,
                        FundBookEntry.kind == kind, *where)
        before = FundBookEntry.entry_on < date_from
        within = FundBookEntry.entry_on.between(date_from, date_to)
        r.books.append(BookLine(account.name,
                                part("receipt", before) - part("expense", before),
                                part("receipt", within), part("expense", within)))
    return r
