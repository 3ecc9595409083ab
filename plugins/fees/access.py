"""Who may take which step (A35, A36, A39), as data.

The city labour department's approvals and the finance department's check are taken by
the plugin's own roles (issue 14 item 18), named in ``FEES_LABOUR_ROLES`` (default:
``labour_approver``, 市人社局审批) and ``FEES_FINANCE_ROLES`` (default:
``finance_checker``, 市财政局核拨) — never the IT system administrator — and each record
says on whose behalf the step was taken. The city service centre's work (collecting the fee, receiving
and reviewing applications, signing agreements, recording income and allocation requests)
is done by ``FEES_CENTRE_ROLES`` (default: ``city_admin``).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from core.errors import RuleViolation, RuleViolations

CENTRE = "市退管中心"
LABOUR = "市劳动保障部门"
FINANCE = "市财政部门"


@dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset[str]

    @property
    def role(self) -> str:
        return "、".join(sorted(self.roles)) or "-"


def current_actor(user=None) -> Actor:
    user = user if user is not None else g.get("ra_user")
    if user is None:  # the CLI: the system operator
        return Actor("cli", frozenset({"system_admin"}))
    return Actor(user.username, frozenset(r.name for r in getattr(user, "roles", [])))


def step_roles(step: str) -> tuple[str, ...]:
    cfg = current_app.config
    if step in ("approve", "allocation_approve"):
        return tuple(cfg.get("FEES_LABOUR_ROLES", ("labour_approver",)))
    if step == "allocation_check":
        return tuple(cfg.get("FEES_FINANCE_ROLES", ("finance_checker",)))
    return tuple(cfg.get("FEES_CENTRE_ROLES", ("city_admin",)))


STEP_OFFICE = {"apply": CENTRE, "review": CENTRE, "sign": CENTRE, "pay": CENTRE,
               "income": CENTRE, "approve": LABOUR, "allocation_approve": LABOUR,
               "allocation_check": FINANCE}
STEP_TITLES = {"apply": "登记分期缴费申请", "review": "审核", "approve": "审批",
               "sign": "签订分期缴费协议", "pay": "登记缴费", "income": "登记专户收入",
               "allocation_approve": "批准拨付", "allocation_check": "核拨"}


def role_titles(roles) -> str:
    """Roles as clerks know them (issue 14 item 5: no role codes on screen)."""
    from core.security import ROLE_TITLES

    return "、".join(ROLE_TITLES.get(r, r) for r in roles)


def may(actor: Actor, step: str) -> bool:
    """Issue 14 item 3: does ``actor`` hold a role for ``step``? Screens offer a step's
    button or form only then."""
    return bool(actor.roles & set(step_roles(step)))


def require(actor: Actor, step: str, rule: str) -> str:
    """Refuse unless ``actor`` holds a role for ``step``; returns the office acted for."""
    allowed = step_roles(step)
    if not actor.roles & set(allowed):
        raise RuleViolations([RuleViolation(
            f"“{STEP_TITLES[step]}”须由{STEP_OFFICE[step]}办理（角色：{role_titles(allowed)}），"
            f"当前用户无权办理（{rule}）", "state", rule)])
    return STEP_OFFICE[step]
