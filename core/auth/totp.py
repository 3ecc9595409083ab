"""The optional TOTP second factor (RFC 6238, pyotp). A user enrols on the TOTP screen;
from then on the login form and the API login need the current code. Users holding a
role listed in TOTP_REQUIRED_ROLES must enrol before they can do anything else.

The secret being enrolled is kept on the user's row (``totp_pending``), not in the
session cookie, which anyone holding it can read; both secrets are encrypted at rest
(``core.auth.secrets``)."""
from __future__ import annotations

import hmac
import time

import pyotp
from flask import current_app


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=username, issuer_name=current_app.config["TOTP_ISSUER"])


def matching_step(secret: str | None, code, after: int | None = None) -> int | None:
    """The time step whose code ``code`` is — now, the step before or after (clock
    drift) — and later than step ``after``; else None."""
    if not secret or not isinstance(code, str | int):
        return None
    code = str(code).strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    otp = pyotp.TOTP(secret)
    now = int(time.time()) // otp.interval
    for step in (now - 1, now, now + 1):
        if (after is None or step > after) and hmac.compare_digest(otp.generate_otp(step), code):
            return step
    return None


def accept(user, code) -> bool:
    """The user's current code, never one of a step already used (issue #12 item 15: a
    code seen by someone else cannot be replayed within its window). The step is taken
    by one conditional UPDATE, so two requests racing with one code cannot both win."""
    from sqlalchemy import or_, update

    from core.extensions import db
    from core.security import RegionUser

    step = matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return False
    taken = db.session.execute(
        update(RegionUser).where(RegionUser.id == user.id, or_(
            RegionUser.totp_last_step.is_(None), RegionUser.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return taken.rowcount == 1


def required(user) -> bool:
    needed = set(current_app.config.get("TOTP_REQUIRED_ROLES") or ())
    return bool(needed & {r.name for r in getattr(user, "roles", [])})
