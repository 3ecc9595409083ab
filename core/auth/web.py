"""Request guards: safe redirects, CSRF on API writes made with the browser session,
the forced password change / TOTP enrolment, no caching of pages, CSP (Talisman)."""
from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Content-Security-Policy: our own host only; scripts need the per-response nonce.
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    # FAB's templates carry inline style attributes (FAB_NOTES).
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def safe_next(url: str | None, fallback: str = "/") -> str:
    """A redirect target inside this site, else ``fallback``. Only a path is accepted:
    no scheme, no host, no ``//`` or ``/\\`` (browsers read both as another host), no
    control characters — whatever Host header the request carried (CVE-2025-32962)."""
    if not url or not url.startswith("/") or url.startswith("//"):
        return fallback
    if "\\" in url or any(unicodedata.category(ch)[0] == "C" for ch in url):
        return fallback
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return fallback
    return url


def _forced_endpoint(user) -> str | None:
    """Where a logged-in user must go before anything else, or None."""
    from core.auth import policy, totp

    if policy.must_change(user):
        return "ChangeOwnPasswordView.this_form_get"
    if totp.required(user) and not user.totp_secret:
        return "TotpView.setup"
    return None


ALWAYS_ALLOWED = {"ChangeOwnPasswordView.this_form_get", "ChangeOwnPasswordView.this_form_post",
                  "TotpView.setup", "static", "appbuilder.static"}


def init_app(app: Flask) -> None:
    """Register after the request scope is resolved (``g.ra_user``)."""
    from flask_talisman import Talisman

    from core.extensions import csrf

    https = bool(app.config["FORCE_HTTPS"])
    Talisman(app, force_https=https, strict_transport_security=https,
             session_cookie_secure=False,
             session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
             content_security_policy=CSP, content_security_policy_nonce_in=["script-src"],
             frame_options="DENY", referrer_policy="same-origin")

    @app.before_request
    def _guards():
        _unknown_action_is_404()
        user = g.get("ra_user")
        is_api = request.path.startswith("/api/")
        if (is_api and request.method not in SAFE_METHODS and "_user_id" in session
                and not request.headers.get("Authorization")
                and current_app.config.get("WTF_CSRF_ENABLED", True)):
            # API blueprints are CSRF-exempt for token clients; a browser session is not.
            csrf.protect()
        if user is None or request.endpoint in ALWAYS_ALLOWED:
            return None
        if request.endpoint and request.endpoint.endswith((".logout", ".login")):
            return None
        if not user.is_active or _locked(user):
            return (jsonify(message="账户已停用或被锁定"), 401) if is_api else None
        target = _forced_endpoint(user)
        if target is None:
            return None
        if is_api:
            return jsonify(message="请先在网页上修改密码或设置双因素认证"), 403
        return redirect(url_for(target))

    @app.after_request
    def _no_store(response):
        if not request.path.startswith(("/static/", "/ra-static/")):
            response.headers["Cache-Control"] = "no-store, max-age=0"
            response.headers["Pragma"] = "no-cache"
        return response


MAX_PK = 2**31 - 1  # INTEGER on PostgreSQL


def _unknown_action_is_404() -> None:
    """FAB answers 500 for ``/action/<name>/<pk>`` with a name it does not know, and for
    a ``<pk>`` that is no integer the database can hold (found by fuzzing)."""
    pk = (request.view_args or {}).get("pk")
    if pk is not None and not (str(pk).isdigit() and int(pk) <= MAX_PK):
        abort(404)
    if request.endpoint and request.endpoint.endswith(".action"):
        view = getattr(current_app.view_functions.get(request.endpoint), "__self__", None)
        name = (request.view_args or {}).get("name")
        if view is not None and name not in getattr(view, "actions", {}):
            abort(404)


def _locked(user) -> bool:
    from core.auth.lockout import is_locked

    return is_locked(user)
