"""The fee plugin's tables (A34–A39). Every amount is ``Money`` (exact, see money.py).

Where rows live (scoping): a fee due belongs to its retiree's region, so a district or
community sees the dues of its own retirees; payments, instalment plans and the special
account are the city service centre's work (A35: the fee is paid to it) and sit at the
city node; an allocation and a service organisation's book belong to that organisation.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, object_session, relationship

from core.scoping import ScopedMixin
from plugins.fees.money import ZERO, Money

TRIGGERS = {"registration": "退休时（新退休人员）", "archive": "档案移交时（已退休人员）"}
PAYER_KINDS = {"enterprise": "企业", "industry_authority": "行业主管部门"}
# A36: what an industry authority pays from for a bankrupt, revoked, closed or
# restructured enterprise.
FUNDING_SOURCES = {"land_auction": "土地拍卖收入", "state_asset": "国有资产净收益"}
PAYMENT_METHODS = {"transfer": "银行转账", "cheque": "支票", "cash": "现金"}
PLAN_STATES = {
    "applied": "已申请",
    "reviewed": "市退管中心已审核",
    "approved": "市劳动保障部门已批准",
    "signed": "已签订协议（执行中）",
    "completed": "已缴清",
    "rejected": "未获批准",
}
INCOME_SOURCES = {"fee": "社会化管理服务费", "donation": "捐赠", "sponsorship": "赞助"}
# A34: what the funds pay for.
PURPOSES = {
    "database": "信息库建设与档案管理",
    "visits": "走访慰问（病困、去世、困难退休人员）",
    "activities": "组织开展活动",
}
ALLOCATION_STATES = {
    "requested": "已申请",
    "approved": "劳动保障部门已批准",
    "checked": "财政部门已核拨",
    "rejected": "未获批准",
}
BOOK_KINDS = {"receipt": "拨入", "expense": "支出"}


def city_path() -> str:
    return f"/{current_app.config['CITY']['code']}/"


class CityScoped(ScopedMixin):
    """Rows of the city service centre's own work."""

    def compute_region_path(self) -> str:
        return city_path()


class FeeDue(ScopedMixin, Model):
    """A35: the fee due for one retiree (rate × years), raised once: at retirement for a
    new retiree, at archive transfer for an earlier one. Assessed on the retiree's
    employer; ``paid_amount`` is what payments have settled so far."""

    __tablename__ = "fee_due"
    __table_args__ = (CheckConstraint("paid_amount >= 0 AND paid_amount <= amount",
                                      name="ck_fee_due_paid_within_amount"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retiree_id: Mapped[int] = mapped_column(ForeignKey("retiree.id"), unique=True, nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False,
                                               index=True)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False, info={"choices": TRIGGERS})
    rate: Mapped[Decimal] = mapped_column(Money, nullable=False)
    years: Mapped[int] = mapped_column(Integer, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    paid_amount: Mapped[Decimal] = mapped_column(Money, nullable=False, default=ZERO)
    due_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)

    retiree = relationship("Retiree")
    enterprise = relationship("Enterprise")

    def compute_region_path(self) -> str | None:
        return self.retiree.region_path if self.retiree is not None else None

    @property
    def outstanding(self) -> Decimal:
        return self.amount - (self.paid_amount or ZERO)

    @property
    def status_label(self) -> str:
        if self.outstanding == 0:
            return "已缴清"
        return "部分缴纳" if self.paid_amount else "未缴"

    @property
    def trigger_label(self) -> str:
        return TRIGGERS.get(self.trigger, self.trigger)


class FeePayment(CityScoped, Model):
    """A payment of the management fee to the city service centre (A35), by the
    enterprise or, for a bankrupt, revoked, closed or restructured one, by its industry
    authority from a named funding source (A36). Never edited: the receipt stands."""

    __tablename__ = "fee_payment"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_fee_payment_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False,
                                               index=True)
    payer_kind: Mapped[str] = mapped_column(String(20), nullable=False,
                                            info={"choices": PAYER_KINDS})
    payer_name: Mapped[str] = mapped_column(String(200), nullable=False)
    funding_source: Mapped[str | None] = mapped_column(String(20),
                                                       info={"choices": FUNDING_SOURCES})
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    paid_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    method: Mapped[str] = mapped_column(String(20), nullable=False, default="transfer")
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    # Issue 14 item 16: a wrong payment is reversed (冲正), never deleted or edited.
    reversed_by: Mapped[str | None] = mapped_column(String(64))
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reversal_reason: Mapped[str | None] = mapped_column(String(200))

    enterprise = relationship("Enterprise")

    def __str__(self) -> str:
        return self.receipt_no

    @property
    def reversed(self) -> bool:
        return self.reversed_at is not None

    @property
    def status_label(self) -> str:
        return "已冲正" if self.reversed else "有效"

    @property
    def payer_label(self) -> str:
        return PAYER_KINDS.get(self.payer_kind, self.payer_kind)

    @property
    def funding_label(self) -> str:
        return FUNDING_SOURCES.get(self.funding_source or "", "")

    @property
    def method_label(self) -> str:
        return PAYMENT_METHODS.get(self.method, self.method)


class FeeSettlement(ScopedMixin, Model):
    """How much of a payment settled which retiree's due (oldest dues first)."""

    __tablename__ = "fee_settlement"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_fee_settlement_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("fee_payment.id"), nullable=False,
                                            index=True)
    due_id: Mapped[int] = mapped_column(ForeignKey("fee_due.id"), nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)

    payment = relationship("FeePayment")
    due = relationship("FeeDue")

    def compute_region_path(self) -> str | None:
        return self.due.region_path if self.due is not None else None


class InstalmentPlan(CityScoped, Model):
    """A36: a hardship instalment plan — applied for in writing through the industry
    authority, reviewed by the city service centre, approved by the city labour
    department, then an agreement is signed. Each step is an ``InstalmentTransition``."""

    __tablename__ = "fee_instalment_plan"
    __table_args__ = (CheckConstraint("total > 0", name="ck_fee_plan_positive"),
                      CheckConstraint("years BETWEEN 1 AND 3", name="ck_fee_plan_years"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False,
                                               index=True)
    submitted_via: Mapped[str] = mapped_column(String(100), nullable=False)
    application_no: Mapped[str | None] = mapped_column(String(100))
    document_name: Mapped[str] = mapped_column(String(200), nullable=False)
    document_type: Mapped[str | None] = mapped_column(String(100))
    document: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    years: Mapped[int] = mapped_column(Integer, nullable=False)
    start_on: Mapped[date] = mapped_column(Date, nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="applied", index=True,
                                       info={"choices": PLAN_STATES})
    approval_no: Mapped[str | None] = mapped_column(String(100))
    agreement_no: Mapped[str | None] = mapped_column(String(100))
    signed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)

    enterprise = relationship("Enterprise")
    instalments: Mapped[list[Instalment]] = relationship(
        back_populates="plan", order_by="Instalment.seq", cascade="all, delete-orphan")
    transitions: Mapped[list[InstalmentTransition]] = relationship(
        back_populates="plan", order_by="InstalmentTransition.id")

    def __str__(self) -> str:
        return f"{self.enterprise.name if self.enterprise else ''}分期计划#{self.id}"

    @property
    def state_label(self) -> str:
        return PLAN_STATES.get(self.state, self.state)

    @property
    def paid(self) -> Decimal:
        return sum((i.paid_amount for i in self.instalments), ZERO)

    @property
    def overdue_count(self) -> int:
        return sum(1 for i in self.instalments if i.overdue)


class Instalment(CityScoped, Model):
    """One year of a plan (A36): amount, due date, what has been paid."""

    __tablename__ = "fee_instalment"
    __table_args__ = (UniqueConstraint("plan_id", "seq"),
                      CheckConstraint("amount > 0", name="ck_fee_instalment_positive"),
                      CheckConstraint("paid_amount >= 0 AND paid_amount <= amount",
                                      name="ck_fee_instalment_paid_within_amount"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("fee_instalment_plan.id"), nullable=False,
                                         index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    paid_amount: Mapped[Decimal] = mapped_column(Money, nullable=False, default=ZERO)

    plan: Mapped[InstalmentPlan] = relationship(back_populates="instalments")

    @property
    def outstanding(self) -> Decimal:
        return self.amount - (self.paid_amount or ZERO)

    @property
    def overdue(self) -> bool:
        """A36: an instalment of a plan in force not paid in full by its due date."""
        return (self.plan is not None and self.plan.state == "signed"
                and self.due_on < date.today() and self.outstanding > 0)

    @property
    def status_label(self) -> str:
        if self.outstanding == 0:
            return "已缴清"
        return "逾期" if self.overdue else "未到期"


class InstalmentTransition(CityScoped, Model):
    """A36: one recorded step of a plan — who, in which role, when, from → to, why."""

    __tablename__ = "fee_instalment_transition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("fee_instalment_plan.id"), nullable=False,
                                         index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_role: Mapped[str] = mapped_column(String(64), nullable=False)
    acting_for: Mapped[str] = mapped_column(String(100), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    note: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[InstalmentPlan] = relationship(back_populates="transitions")


class FundAccount(ScopedMixin, Model):
    """A38: the fiscal special account (no organisation) and, A39, each service
    organisation's own book. The balance can never go negative: the database refuses
    it, and every debit is one conditional UPDATE."""

    __tablename__ = "fee_fund_account"
    __table_args__ = (CheckConstraint("balance >= 0", name="ck_fee_fund_account_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "special" for the special account, the organisation's region code for a book.
    code: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    balance: Mapped[Decimal] = mapped_column(Money, nullable=False, default=ZERO)

    organisation = relationship("Region")

    def __str__(self) -> str:
        return self.name

    def compute_region_path(self) -> str | None:
        if self.organisation is not None:
            return self.organisation.region_path
        return city_path()


class FundIncome(CityScoped, Model):
    """A37, A38: money into the special account — fees, donations, sponsorship. Income
    only: kept apart from spending, never netted, never negative."""

    __tablename__ = "fee_fund_income"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_fee_fund_income_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False, index=True,
                                        info={"choices": INCOME_SOURCES})
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    received_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    from_name: Mapped[str] = mapped_column(String(200), nullable=False)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("fee_payment.id"), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)

    payment = relationship("FeePayment")

    @property
    def source_label(self) -> str:
        return INCOME_SOURCES.get(self.source, self.source)


class FundReversal(CityScoped, Model):
    """Issue 14 item 16, A38: the reversing entry (冲正) of a fee income in the special
    account. The income row stays; this row takes the same amount back out, dated the
    day of the reversal, with the reason and who reversed it."""

    __tablename__ = "fee_fund_reversal"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_fee_fund_reversal_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    income_id: Mapped[int] = mapped_column(ForeignKey("fee_fund_income.id"), unique=True,
                                           nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    reversed_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)

    income = relationship("FundIncome")


class FundAllocation(ScopedMixin, Model):
    """A39: an allocation from the special account to a service organisation by need,
    approved by the labour department and checked by finance before money moves."""

    __tablename__ = "fee_fund_allocation"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_fee_fund_allocation_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False,
                                                 index=True)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False, info={"choices": PURPOSES})
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    need: Mapped[str] = mapped_column(Text, nullable=False)
    retirees_managed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="requested",
                                       index=True, info={"choices": ALLOCATION_STATES})
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False,
                                                   default=datetime.now)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    approval_no: Mapped[str | None] = mapped_column(String(100))
    checked_by: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    checked_on: Mapped[date | None] = mapped_column(Date, index=True)
    note: Mapped[str | None] = mapped_column(String(200))

    organisation = relationship("Region")

    def compute_region_path(self) -> str | None:
        return self.organisation.region_path if self.organisation is not None else None

    @property
    def purpose_label(self) -> str:
        return PURPOSES.get(self.purpose, self.purpose)

    @property
    def state_label(self) -> str:
        return ALLOCATION_STATES.get(self.state, self.state)


class FundBookEntry(ScopedMixin, Model):
    """A39: a line of a service organisation's own book — money allocated in, money
    spent on an A34 purpose. The organisation sees its own book only."""

    __tablename__ = "fee_fund_book_entry"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_fee_fund_book_entry_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("fee_fund_account.id"), nullable=False,
                                            index=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, info={"choices": BOOK_KINDS})
    purpose: Mapped[str] = mapped_column(String(20), nullable=False, info={"choices": PURPOSES})
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    entry_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("fee_fund_allocation.id"),
                                                      unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)

    account = relationship("FundAccount")
    allocation = relationship("FundAllocation")

    def compute_region_path(self) -> str | None:
        return self.account.region_path if self.account is not None else None

    @property
    def kind_label(self) -> str:
        return BOOK_KINDS.get(self.kind, self.kind)

    @property
    def purpose_label(self) -> str:
        return PURPOSES.get(self.purpose, self.purpose)

    @property
    def balance_after(self) -> Decimal:
        """A39 (issue 14 item 19): the book's balance after this entry — entries in date
        order, the same day in recording order — whatever order a list shows them in."""
        session = object_session(self)
        upto = (FundBookEntry.account_id == self.account_id,
                or_(FundBookEntry.entry_on < self.entry_on,
                    and_(FundBookEntry.entry_on == self.entry_on, FundBookEntry.id <= self.id)))

        def total(kind: str) -> Decimal:
            return session.scalar(select(func.coalesce(func.sum(FundBookEntry.amount), ZERO))
                                  .where(FundBookEntry.kind == kind, *upto)) or ZERO
        return total("receipt") - total("expense")
