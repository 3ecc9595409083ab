"""Lockout: LOCKOUT_THRESHOLD failed logins in a row lock the account for
LOCKOUT_MINUTES; a security administrator may unlock it earlier. A locked account is
refused with the same answer, after the same work, as a wrong password or an unknown
user (``RetireeSecurityManager.auth_user_db``)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app


def is_locked(user, now: datetime | None = None) -> bool:
    until = getattr(user, "locked_until", None)
    return until is not None and until > (now or datetime.now())


def lock_if_due(user, now: datetime | None = None) -> bool:
    """After a failure: lock when the threshold is reached. True when it just locked."""
    cfg = current_app.config
    if (user.fail_login_count or 0) >= cfg["LOCKOUT_THRESHOLD"] and not is_locked(user, now):
        user.locked_until = (now or datetime.now()) + timedelta(minutes=cfg["LOCKOUT_MINUTES"])
        return True
    return False


def clear_expired(user, now: datetime | None = None) -> None:
    """A lock that has run out starts a fresh count."""
    if user.locked_until is not None and not is_locked(user, now):
        user.locked_until = None
        user.fail_login_count = 0


def unlock(user) -> None:
    user.locked_until = None
    user.fail_login_count = 0
