"""How a user's account is stored and shown for Chinese offices.

FAB's ``ab_user`` has a first and a last name and an e-mail that is required and unique.
Chinese staff have one name (姓名), kept whole in ``first_name`` (``last_name`` stays
empty), and often no work e-mail: an empty e-mail is stored as a placeholder in the
reserved ``.invalid`` domain (RFC 2606), unique per login name and never shown.
"""
from __future__ import annotations

NO_EMAIL_DOMAIN = "retiree-admin.invalid"


def stored_email(username: str, email: str | None) -> str:
    """The value written to ``ab_user.email``: the address given, else the placeholder."""
    email = (email or "").strip()
    if not email or is_placeholder(email):
        return f"{username}@{NO_EMAIL_DOMAIN}"
    return email


def is_placeholder(email: str | None) -> bool:
    return bool(email) and email.endswith(f"@{NO_EMAIL_DOMAIN}")


def shown_email(email: str | None) -> str:
    """The e-mail as screens show it: empty when none was given."""
    return "" if not email or is_placeholder(email) else email


def roles_label(user) -> str:
    """The user's roles by their Chinese names (never the role codes)."""
    from core.auth.duties import role_title

    return "、".join(role_title(r.name) for r in sorted(user.roles, key=lambda r: r.name))
