"""Session lifetimes and cookies.

FAB never marks a session permanent, so PERMANENT_SESSION_LIFETIME did nothing (FAB_NOTES).
Here every session is permanent with the idle timeout as its lifetime (the signed
cookie's own timestamp is checked on load), and the server checks two times it keeps in
the session: the last request (SESSION_IDLE_MINUTES) and the login
(SESSION_ABSOLUTE_MINUTES). A session past either ends as a logout would.

The cookie is HttpOnly and SameSite=Lax, and Secure whenever the request came over
HTTPS (or always, with SESSION_COOKIE_SECURE).
"""
from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

SEEN, STARTED = "ra_seen", "ra_started"


class SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def start(user_id) -> None:
    """After a successful login: a fresh session (no fixation) with its clock started."""
    keep = {k: session[k] for k in ("locale",) if k in session}
    session.clear()
    session.update(keep)
    session.permanent = True
    now = time.time()
    session[SEEN] = session[STARTED] = now


def expired(now: float | None = None) -> str | None:
    """Why the logged-in session has ended ("idle", "absolute"), or None."""
    cfg = current_app.config
    now = now or time.time()
    seen, started = session.get(SEEN), session.get(STARTED)
    if seen is None or started is None:
        return "absolute"
    if now - seen > cfg["SESSION_IDLE_MINUTES"] * 60:
        return "idle"
    if now - started > cfg["SESSION_ABSOLUTE_MINUTES"] * 60:
        return "absolute"
    return None


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.permanent_session_lifetime = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True

    @app.before_request
    def _session_clock() -> None:
        if request.path.startswith(("/static/", "/ra-static/")):
            return
        session.permanent = True
        if "_user_id" not in session:
            return
        reason = expired()
        if reason is None:
            session[SEEN] = time.time()
            return
        user_id = session.get("_user_id")
        session.clear()
        g.ra_session_ended = reason
        _record_timeout(user_id, reason)


def _record_timeout(user_id, reason: str) -> None:
    from core.audit.trail import record
    from core.extensions import db
    from core.scoping import unscoped
    from core.security import RegionUser

    with unscoped():
        user = db.session.get(RegionUser, int(user_id)) if str(user_id).isdigit() else None
    record("logout", actor=getattr(user, "username", None) or f"#{user_id}",
           detail={"reason": "session_" + reason})
