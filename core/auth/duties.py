"""Separation of duties (MLPS 2.0 level 3: 三员分立).

One user holds at most one of the three administrator roles (system, security, audit)
and none of them together with a business role. The rule is checked in one place, a
``before_flush`` listener, so it holds on every path that writes a user's roles: the
user screens, ``retiree-admin users create|grant``, FAB's group screens (a group's roles
count as the user's own) and any code that changes ``user.roles``. The screens and the
CLI call ``check_duties`` first to answer with the message before anything is written.

A security administrator manages business staff and security administrators only: the
accounts of the system and audit administrators, who check the security administrator's
work, are made and changed by the operator with the CLI (``users create``).
"""
from __future__ import annotations

from collections.abc import Iterable

from flask_appbuilder.security.sqla.models import Group, User
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.errors import RuleViolation

DUTY_ROLES = ("system_admin", "security_admin", "audit_admin")
# Accounts a security administrator may neither grant nor touch (the other two duties).
NOT_MANAGED_BY_SECURITY = ("system_admin", "audit_admin")


# FAB's own role for visitors who have not logged in (issue 14 item 5: no code on screen).
FAB_ROLE_TITLES = {"Public": "未登录访客"}


def role_title(name: str) -> str:
    from core.security import ROLE_TITLES

    return ROLE_TITLES.get(name) or FAB_ROLE_TITLES.get(name, name)


def _titles(names: Iterable[str]) -> str:
    return "、".join(role_title(n) for n in sorted(names))


def effective_role_names(user) -> set[str]:
    """The user's roles, with those given through FAB groups."""
    names = {r.name for r in getattr(user, "roles", None) or []}
    for group in getattr(user, "groups", None) or []:
        names |= {r.name for r in group.roles}
    return names


def duties_violation(names: Iterable[str]) -> str | None:
    """The Chinese message for a role combination that breaks the rule, else None."""
    names = set(names)
    duties = names.intersection(DUTY_ROLES)
    if len(duties) > 1:
        return (f"三员分立：系统管理员、安全管理员、审计管理员三者只能担任其一，"
                f"不能同时担任{_titles(duties)}")
    business = names - set(DUTY_ROLES)
    if duties and business:
        return (f"三员分立：{_titles(duties)}不能同时担任业务角色（{_titles(business)}）；"
                f"请为业务工作另建账户")
    return None


def check_duties(user) -> None:
    """Refuse a user whose roles break the separation of duties (MLPS level 3)."""
    message = duties_violation(effective_role_names(user))
    if message is not None:
        raise RuleViolation(message, "roles")


def may_manage(user) -> bool:
    """Whether a security administrator may manage (see, edit, disable, reset, unlock)
    this account: not a system or audit administrator's (MLPS level 3)."""
    return not effective_role_names(user).intersection(NOT_MANAGED_BY_SECURITY)


def grantable(names: Iterable[str]) -> list[str]:
    """Of ``names``, the roles a security administrator may grant on the screens."""
    return [n for n in names if n not in NOT_MANAGED_BY_SECURITY]


@event.listens_for(Session, "before_flush")
def _refuse_combined_duties(session: Session, flush_context, instances) -> None:
    users = set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, User):
            users.add(obj)
        elif isinstance(obj, Group):
            users.update(u for u in obj.users if isinstance(u, User))
    for user in users:
        check_duties(user)
