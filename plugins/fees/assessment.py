"""A35, A36: what each retiree's employer owes, who pays it, and the balances.

Settings (plugin namespace ``FEES_*``, overridable like every setting): ``FEES_RATE``
(yuan per person per year, default 120), ``FEES_YEARS`` (years paid at once, default 5),
``FEES_NEW_RETIREES_FROM`` (retirees from this date are "new": their fee is due at
retirement; default A43's ``RULES_IN_FORCE_FROM``, 2024-12-01).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.registry.models import Enterprise, Retiree
from core.scoping import unscoped
from plugins.fees.models import FeeDue, InstalmentPlan
from plugins.fees.money import ZERO, to_money

# A36: enterprises that no longer pay for themselves.
NOT_TRADING = ("bankrupt", "revoked", "closed", "restructured")
ACTIVE_STATES = ("employer_managed", "community_managed")


@dataclass(frozen=True)
class FeeSettings:
    rate: Decimal
    years: int
    new_retirees_from: date


def _decimal_setting(value) -> Decimal:
    # An environment variable "120.5" arrives as a JSON float: its text is what was meant.
    return to_money(str(value) if isinstance(value, float) else value)


def fee_settings() -> FeeSettings:
    cfg = current_app.config
    new_from = cfg.get("FEES_NEW_RETIREES_FROM") or cfg["RULES_IN_FORCE_FROM"]
    if isinstance(new_from, str):
        new_from = date.fromisoformat(new_from)
    return FeeSettings(rate=_decimal_setting(cfg.get("FEES_RATE", 120)),
                       years=int(cfg.get("FEES_YEARS", 5)), new_retirees_from=new_from)


def default_schedule(retiree) -> dict | None:
    """A35: rate × years for a retiree whose employer is assessed; None for 自谋职业 and
    协保 retirees, who have no enterprise to pay."""
    if retiree.employer_id is None and retiree.employer is None:
        return None
    s = fee_settings()
    return {"rate": s.rate, "years": s.years, "total": s.rate * s.years}


def is_new_retiree(retiree) -> bool:
    """A35/A43: retired on or after the rules came into force."""
    return retiree.retirement_date >= fee_settings().new_retirees_from


def payer_of(enterprise: Enterprise) -> tuple[str, str]:
    """A36: the enterprise pays; for a bankrupt, revoked, closed or restructured one its
    industry authority does. Returns (payer kind, payer name)."""
    if enterprise.status in NOT_TRADING:
        return "industry_authority", (enterprise.industry_authority or "").strip()
    return "enterprise", enterprise.name


# --- raising dues (event hooks) -----------------------------------------------------

def raise_due(session: Session, retiree: Retiree, event: str) -> FeeDue | None:
    """A35: raise the retiree's fee once — at registration for a new retiree, at archive
    acceptance for an earlier one (or for a new one registered while the plugin was off).
    Uses the ``fee_schedule`` hook for the retiree's district, so a district's own
    schedule wins. The caller commits."""
    if retiree.management_state not in ACTIVE_STATES:
        return None
    new = is_new_retiree(retiree)
    if event == "registration" and not new:
        return None
    if event == "archive" and retiree.archive_transferred_on is None:
        return None
    exists = session.scalar(select(FeeDue.id).where(FeeDue.retiree_id == retiree.id))
    if exists is not None or retiree.employer is None:
        return None
    plugins = current_app.extensions["retiree_admin.plugins"]
    schedule = plugins.hook_for(retiree.region_path, session).fee_schedule(retiree=retiree)
    if not schedule:
        return None
    due = FeeDue(retiree=retiree, enterprise=retiree.employer,
                 trigger="registration" if new else "archive",
                 rate=to_money(schedule["rate"]), years=int(schedule["years"]),
                 amount=to_money(schedule["total"]), paid_amount=ZERO,
                 due_on=retiree.retirement_date if new else retiree.archive_transferred_on)
    session.add(due)
    return due


def raise_due_after_commit(retiree: Retiree, event: str) -> None:
    """Called from the event hooks, which run after core's commit: that session can emit
    no more SQL, so the due is written in a session of its own (a system action, past
    the user's scope)."""
    from core.extensions import db

    with unscoped(), Session(db.engine) as session:
        fresh = session.get(Retiree, retiree.id)
        if fresh is not None and raise_due(session, fresh, event) is not None:
            session.commit()


def follow_move(retiree: Retiree) -> None:
    """A32: after a move, the due (and its settlements) belong to the new region. Called
    after core's commit, like the other events (hence a session of its own)."""
    from core.extensions import db
    from plugins.fees.models import FeeSettlement

    with unscoped(), Session(db.engine) as session:
        due = session.scalar(select(FeeDue).where(FeeDue.retiree_id == retiree.id))
        if due is None or due.region_path == due.retiree.region_path:
            return
        due.region_path = due.retiree.region_path
        for settlement in session.execute(select(FeeSettlement).where(
                FeeSettlement.due_id == due.id)).scalars():
            settlement.region_path = due.region_path
        session.commit()


def assess_backlog(session: Session) -> int:
    """Raise the dues missing in districts where the plugin is on (e.g. just enabled):
    new retirees registered, earlier retirees whose archive was accepted."""
    plugins = current_app.extensions["retiree_admin.plugins"]
    created = 0
    with unscoped():
        candidates = session.execute(
            select(Retiree).where(
                Retiree.employer_id.is_not(None),
                Retiree.management_state.in_(ACTIVE_STATES),
                Retiree.id.not_in(select(FeeDue.retiree_id)))
            .order_by(Retiree.id)).scalars().all()
        for r in candidates:
            if not plugins.enabled_for_path("fees", r.region_path, session):
                continue
            event = "archive" if r.archive_transferred_on else "registration"
            if raise_due(session, r, event) is not None:
                created += 1
        session.flush()
    return created


# --- balances -----------------------------------------------------------------------

@dataclass
class Balance:
    enterprise: Enterprise
    assessed: Decimal
    paid: Decimal
    retirees: int
    payer_kind: str
    payer_name: str
    plan: InstalmentPlan | None = None

    @property
    def outstanding(self) -> Decimal:
        return self.assessed - self.paid


def balances(session: Session, arrears_only: bool = False,
             enterprise_id: int | None = None) -> list[Balance]:
    """Per enterprise: assessed (its retirees' dues), paid (what payments settled of
    them), outstanding; the payer (A36) and any open plan. Sums in SQL over the dues, so
    a district sees the part of each assessment that concerns its own retirees."""
    q = (select(Enterprise, func.sum(FeeDue.amount), func.sum(FeeDue.paid_amount),
                func.count(FeeDue.id))
         .join(FeeDue, FeeDue.enterprise_id == Enterprise.id)
         .group_by(Enterprise.id).order_by(Enterprise.unit_no))
    if enterprise_id is not None:
        q = q.where(Enterprise.id == enterprise_id)
    if arrears_only:
        q = q.having(func.sum(FeeDue.amount - FeeDue.paid_amount) > ZERO)
    plans = {p.enterprise_id: p for p in session.execute(
        select(InstalmentPlan).where(InstalmentPlan.state.in_(
            ("applied", "reviewed", "approved", "signed")))).scalars()}
    out = []
    for enterprise, assessed, paid, n in session.execute(q).all():
        kind, name = payer_of(enterprise)
        out.append(Balance(enterprise, assessed or ZERO, paid or ZERO, n, kind, name,
                           plans.get(enterprise.id)))
    return out


def outstanding_of(session: Session, enterprise_id: int) -> Decimal:
    """What the enterprise still owes: its retirees' dues less what payments settled."""
    return session.scalar(select(func.coalesce(func.sum(FeeDue.amount - FeeDue.paid_amount),
                                               ZERO))
                          .where(FeeDue.enterprise_id == enterprise_id)) or ZERO


def open_dues(session: Session, enterprise_id: int) -> list[FeeDue]:
    """The enterprise's dues not yet settled, oldest first (the order payments settle)."""
    return list(session.execute(
        select(FeeDue).where(and_(FeeDue.enterprise_id == enterprise_id,
                                  FeeDue.paid_amount < FeeDue.amount))
        .order_by(FeeDue.due_on, FeeDue.id)).scalars())
