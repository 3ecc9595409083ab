"""Session lifetimes and cookies.

FAB never marks a session permanent, so PERMANENT_SESSION_LIFETIME did nothing (FAB_NOTES).
Here every session is permanent with the idle timeout as its lifetime (the signed
cookie's own timestamp is checked on load), and the server checks two times it keeps in
the session: the last request (SESSION_IDLE_MINUTES) and the login
(SESSION_ABSOLUTE_MINUTES). A session past either ends as a logout would.

The cookie is HttpOnly and SameSite=Lax, and Secure whenever the request came over
HTTPS (or always, with SESSION_COOKIE_SECURE).

A signed cookie cannot be revoked by itself (issue #12, item 14): each user has a
session epoch, bumped on logout, password change, lock and disable (``_bump_epoch``);
the session and every JWT carry the epoch of their login, and a different one ends
them. The check costs no query: Flask-Login loads the user on every request anyway
(``RetireeSecurityManager.load_session_user`` and ``load_user_jwt``).
"""
from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

SEEN, STARTED, EPOCH = "ra_seen", "ra_started", "ra_epoch"


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


def stamp(user) -> None:
    """The session belongs to the user's current epoch (at login, and after the user's
    own password change, which ends their other sessions but not this one)."""
    session[EPOCH] = user.session_epoch


def current(user) -> bool:
    """This session was started in the user's current epoch."""
    return session.get(EPOCH) == user.session_epoch


def revoke(user) -> None:
    """End every session and token of ``user`` (committed by the caller)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def end_revoked(user_id) -> None:
    """A session of an older epoch, or of a locked or disabled user, ends as a logout."""
    session.clear()
    g.ra_session_ended = "revoked"
    _record_timeout(user_id, "revoked")


def _bump_epoch(mapper, connection, user) -> None:
    """Item 14: a changed password, a lock or a disable end the user's sessions."""
    from sqlalchemy import inspect

    state = inspect(user)

    def changed(name: str) -> bool:
        return state.attrs[name].history.has_changes()

    if changed("password") or (changed("active") and not user.active) \
            or (changed("locked_until") and user.locked_until is not None):
        revoke(user)


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
    from flask_login import user_logged_in
    from sqlalchemy import event

    from core.security import RegionUser

    if not event.contains(RegionUser, "before_update", _bump_epoch):
        event.listen(RegionUser, "before_update", _bump_epoch)
    user_logged_in.connect(lambda sender, user, **kw: stamp(user), app, weak=False)
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
