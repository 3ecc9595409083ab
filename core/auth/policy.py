"""The password policy, applied on every path that sets a password: ``users create``,
the user screens (new user, reset), the user's own change, the forced change at first
login or after expiry. Settings: PASSWORD_MIN_LENGTH, PASSWORD_MIN_CLASSES,
PASSWORD_MIN_SCORE, PASSWORD_HISTORY, PASSWORD_MAX_AGE_DAYS,
PASSWORD_CHANGE_AT_FIRST_LOGIN.

Issue #12 item 16: the character classes let ``Password1``, ``P@ssw0rd`` and
``Qwer!2345`` through, so the strength is estimated with zxcvbn (Dropbox's estimator:
common passwords, dictionary words with substitutions, keyboard walks, dates, the
username) and must reach PASSWORD_MIN_SCORE; and none of the last PASSWORD_HISTORY
passwords may be chosen again (their hashes are kept in ``password_history``)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from werkzeug.security import check_password_hash
from wtforms import ValidationError
from zxcvbn import zxcvbn

from core.errors import RuleViolation

CLASSES = (str.islower, str.isupper, str.isdigit)


def _classes(password: str) -> int:
    found = {i for ch in password for i, test in enumerate(CLASSES) if test(ch)}
    if any(not (ch.islower() or ch.isupper() or ch.isdigit()) for ch in password):
        found.add(len(CLASSES))
    return len(found)


def problems(password: str | None, username: str | None = None) -> list[str]:
    """What is wrong with ``password`` for ``username`` (empty: acceptable)."""
    cfg = current_app.config
    password = password or ""
    out = []
    if len(password) < cfg["PASSWORD_MIN_LENGTH"]:
        out.append(f"密码至少{cfg['PASSWORD_MIN_LENGTH']}位")
    if _classes(password) < cfg["PASSWORD_MIN_CLASSES"]:
        out.append(f"密码须包含小写字母、大写字母、数字、其他字符中的至少{cfg['PASSWORD_MIN_CLASSES']}类")
    name = (username or "").strip().lower()
    if name and name in password.lower():
        out.append("密码不能包含用户名")
    # zxcvbn's work grows with the length; the first 72 characters decide.
    if password and zxcvbn(password[:72], user_inputs=[name] if name else [])["score"] \
            < cfg["PASSWORD_MIN_SCORE"]:
        out.append("密码过于常见或容易被猜到（如常用密码、键盘顺序、单词加数字或年份），"
                   "请换一个更难猜的密码")
    return out


def _recent_hashes(user) -> list[str]:
    """The hashes of the user's last PASSWORD_HISTORY passwords, the current first."""
    from sqlalchemy import select

    from core.auth.models import PasswordHistory
    from core.extensions import db

    n = current_app.config["PASSWORD_HISTORY"]
    if not n or user.id is None:
        return []
    older = db.session.scalars(select(PasswordHistory.password)
                               .where(PasswordHistory.user_id == user.id)
                               .order_by(PasswordHistory.id.desc()).limit(n)).all()
    current = [user.password] if user.password else []
    return (current + [h for h in older if h != user.password])[:n]


def check_not_reused(user, password: str) -> None:
    """Raise RuleViolation when ``password`` is one of the user's last passwords."""
    if any(check_password_hash(h, password) for h in _recent_hashes(user)):
        n = current_app.config["PASSWORD_HISTORY"]
        raise RuleViolation(f"新密码不能与最近{n}次使用过的密码相同", "password")


def remember(user) -> None:
    """Keep the hash of the password just set; only the last PASSWORD_HISTORY stay."""
    from sqlalchemy import delete, select

    from core.auth.models import PasswordHistory
    from core.extensions import db

    n = current_app.config["PASSWORD_HISTORY"]
    if not n or not user.password:
        return
    db.session.add(PasswordHistory(user_id=user.id, password=user.password,
                                   created_at=datetime.now()))
    db.session.flush()
    keep = select(PasswordHistory.id).where(PasswordHistory.user_id == user.id) \
        .order_by(PasswordHistory.id.desc()).limit(n)
    db.session.execute(delete(PasswordHistory).where(
        PasswordHistory.user_id == user.id, PasswordHistory.id.not_in(keep.scalar_subquery())))


def check(password: str | None, username: str | None = None) -> None:
    """Raise RuleViolation (field ``password``) when the policy refuses ``password``."""
    found = problems(password, username)
    if found:
        raise RuleViolation("；".join(found), "password")


def fab_validator(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: FAB's own password fields (no username there;
    our forms add it with ``PasswordPolicy``)."""
    found = problems(password)
    if found:
        raise PasswordComplexityValidationError("；".join(found))


class PasswordPolicy:
    """WTForms validator; the username comes from a form field or a callable."""

    def __init__(self, username_field: str | None = None, username=None):
        self.username_field = username_field
        self.username = username

    def __call__(self, form, field) -> None:
        name = None
        if self.username_field and self.username_field in form:
            name = form[self.username_field].data
        elif self.username is not None:
            name = self.username()
        found = problems(field.data, name)
        if found:
            raise ValidationError("；".join(found))


def expired(user, now: datetime | None = None) -> bool:
    """PASSWORD_MAX_AGE_DAYS after the last change the password must be changed."""
    days = current_app.config["PASSWORD_MAX_AGE_DAYS"]
    changed = getattr(user, "password_changed_at", None)
    if not days or changed is None:
        return False
    return (now or datetime.now()) - changed > timedelta(days=days)


def must_change(user) -> bool:
    return bool(getattr(user, "must_change_password", False)) or expired(user)
