"""Fixtures of the security suite: apps with CSRF and rate limits ON (the other suites
turn them off), logins through the real form with its CSRF token, audit look-ups."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.testing import PASSWORD

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login/") -> str:
    page = client.get(path)
    found = CSRF_RE.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def form_login(client, username: str, password: str = PASSWORD, totp: str | None = None,
               next_url: str | None = None):
    data = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    if totp is not None:
        data["totp"] = totp
    path = "/login/" + (f"?next={next_url}" if next_url is not None else "")
    return client.post(path, data=data)


def api_login(client, username: str, password: str = PASSWORD, **extra):
    return client.post("/api/v1/security/login",
                       json={"username": username, "password": password, "provider": "db",
                             **extra})


@pytest.fixture
def secure_app(shared_app):
    """Production-like: CSRF on, rate limits on (generous, so that other tests can log
    in repeatedly; the rate-limit tests build their own app). Shared like ``app``."""
    return shared_app(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True,
                       AUTH_RATE_LIMIT="1000 per minute")


@pytest.fixture
def login_as(secure_app):
    """A logged-in client of ``secure_app`` (through the form, with CSRF)."""

    def login(username: str, password: str = PASSWORD, app=None):
        client = (app or secure_app).test_client()
        response = form_login(client, username, password)
        assert response.status_code == 302 and "/login" not in response.location, \
            f"login failed for {username}"
        return client

    return login


@pytest.fixture
def audit(secure_app):
    """Audit entries as dicts (detail parsed), optionally filtered by field values."""
    from core.audit.models import AuditEntry
    from core.extensions import db

    def entries(app=None, **where):
        with (app or secure_app).app_context():
            rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
            out = []
            for e in rows:
                row = {c: getattr(e, c) for c in ("seq", "actor", "ip", "action",
                                                  "object_type", "object_id", "outcome")}
                row["detail"] = json.loads(e.detail) if e.detail else None
                if all(row.get(k) == v for k, v in where.items()):
                    out.append(row)
            return out

    return entries


@pytest.fixture
def make_user(secure_app):
    """Create a user (through ``users create``'s function) with a role and region."""
    from core.commands import create_user

    def make(username: str, role: str, region: str, password: str = PASSWORD,
             temporary: bool = False, app=None):
        with (app or secure_app).app_context():
            create_user(username, password, role, region, name=username, temporary=temporary)

    return make


def set_user(app, username: str, **values) -> None:
    from core.extensions import db
    from core.security import RegionUser

    with app.app_context():
        user = db.session.scalar(select(RegionUser).where(RegionUser.username == username))
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


def get_user(app, username: str):
    from core.extensions import db
    from core.security import RegionUser

    with app.app_context():
        user = db.session.scalar(select(RegionUser).where(RegionUser.username == username))
        if user is not None:
            user.roles, user.region  # noqa: B018  (load before detaching)
            db.session.expunge(user)
        return user
