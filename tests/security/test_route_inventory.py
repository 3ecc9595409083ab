"""Route inventory: every URL is public by intent (login, static files, …) or checked
for a permission. A new route without a check fails ``test_every_route_is_public_by_intent
_or_permission_checked``; the crawl proves the checks answer anonymous callers."""
from __future__ import annotations

import pytest
from flask import Flask

# Public by intent, with the reason.
PUBLIC = {
    "static": "our CSS/JS/fonts",
    "appbuilder.static": "FAB's CSS/JS",
    "LoginView.login": "the login form",
    "LoginView.logout": "ends the caller's own session (POST, CSRF-checked)",
    "RetireeSecurityApi.login": "API login (rate-limited, lockout)",
    "RetireeSecurityApi.refresh": "needs a valid refresh token (jwt_required)",
    "HomeView.index": "welcome page; shows data only to a logged-in user",
    "UtilView.back": "redirects to the caller's own page history",
    "LocaleView.index": "switches the caller's language",
}
# FAB's list actions check the action's own permission inside the view.
CHECKED_INSIDE = (".action", ".action_post")


def unprotected_routes(app: Flask) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in PUBLIC or endpoint.endswith(CHECKED_INSIDE):
            continue
        fn = app.view_functions[endpoint]
        if not hasattr(fn, "_permission_name"):
            out.append(f"{rule.rule} -> {endpoint}")
    return sorted(out)


def test_every_route_is_public_by_intent_or_permission_checked(app):
    assert unprotected_routes(app) == []


def test_public_list_names_only_existing_endpoints(app):
    assert set(PUBLIC) <= set(app.view_functions)


def test_a_new_unprotected_route_is_caught(app_factory):
    app = app_factory()
    app.add_url_rule("/leak", "leak", lambda: "secret")
    assert unprotected_routes(app) == ["/leak -> leak"]


def test_plugins_routes_are_in_the_inventory(app):
    """Plugins' views and APIs are registered in the same app: the inventory covers them."""
    endpoints = set(app.view_functions)
    assert any(e.startswith("Fee") for e in endpoints)
    assert any(e.startswith("Park") for e in endpoints)


def _sample_url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg].__class__.__name__
        values[arg] = 1 if converter in ("IntegerConverter", "NumberConverter") else "1"
    url = rule.rule
    for name, value in values.items():
        url = url.replace(f"<{name}>", str(value))
        for kind in ("int", "string", "path", "float"):
            url = url.replace(f"<{kind}:{name}>", str(value))
    return url


def test_anonymous_callers_get_nothing_from_protected_routes(app):
    """Every method of every non-public route, called without a session or token: a
    redirect to the login, 400, 401, 403, 404 or 405 — never data, never 500."""
    client = app.test_client()
    leaks = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json={} if method != "GET" else None)
            ok = response.status_code in (400, 401, 403, 404, 405) or (
                response.status_code == 302 and "/login/" in response.location)
            if not ok:
                leaks.append(f"{method} {url} ({rule.endpoint}) -> {response.status_code}")
    assert leaks == [], "\n".join(leaks)


@pytest.mark.parametrize("role_user", ["security_admin", "audit_admin"])
def test_administrators_without_business_roles_see_no_retiree(app_factory, role_user):
    from core.commands import create_user

    app = app_factory()
    with app.app_context():
        create_user("x", "Test@2024pw", role_user, "320500", temporary=False)
    client = app.test_client()
    client.post("/login/", data={"username": "x", "password": "Test@2024pw"})
    for path in ("/retiree/list/", "/api/v1/retiree/", "/retiree-exchange/import",
                 "/retiree/export/", "/dashboard/"):
        assert client.get(path).status_code in (302, 401, 403), path


def test_public_role_has_no_permission(app):
    from flask_appbuilder.security.sqla.models import Role
    from sqlalchemy import select

    from core.extensions import db

    with app.app_context():
        public = db.session.scalar(select(Role).where(Role.name == "Public"))
        assert public is not None and list(public.permissions) == []
