"""The optional TOTP second factor (RFC 6238, pyotp). A user enrols on the TOTP screen;
from then on the login form and the API login need the current code. Users holding a
role listed in TOTP_REQUIRED_ROLES must enrol before they can do anything else."""
from __future__ import annotations

import pyotp
from flask import current_app


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=username, issuer_name=current_app.config["TOTP_ISSUER"])


def verify(secret: str | None, code) -> bool:
    """The code of now or of the step before or after (clock drift)."""
    if not secret or not isinstance(code, str | int):
        return False
    code = str(code).strip().replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def required(user) -> bool:
    needed = set(current_app.config.get("TOTP_REQUIRED_ROLES") or ())
    return bool(needed & {r.name for r in getattr(user, "roles", [])})
