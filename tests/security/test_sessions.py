"""Sessions and requests: idle timeout and absolute lifetime, logout by POST with CSRF,
cookie flags, no-store caching, CSRF on forms and on API writes made with the browser
session, short-lived JWTs, CSP with nonces, safe redirects."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from core.testing import PASSWORD
from tests.security.conftest import api_login, csrf_token, form_login


def _session_cookie(response):
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


# --- lifetimes --------------------------------------------------------------------------

def test_session_is_permanent_with_the_idle_timeout_as_lifetime(secure_app):
    assert secure_app.permanent_session_lifetime == timedelta(minutes=30)
    client = secure_app.test_client()
    cookie = _session_cookie(form_login(client, "c_cl11"))
    assert "Expires=" in cookie, "FAB never marks sessions permanent: fixed here"


def test_idle_session_ends_after_30_minutes(secure_app, login_as, audit):
    client = login_as("c_cl11")
    assert client.get("/retiree/list/").status_code == 200
    with client.session_transaction() as s:
        s["ra_seen"] = time.time() - 31 * 60
    response = client.get("/retiree/list/")
    assert response.status_code == 302 and "/login/" in response.location
    assert client.get("/retiree/list/").status_code == 302  # stays logged out
    assert audit(action="logout", actor="c_cl11")[-1]["detail"] == {"reason": "session_idle"}


def test_active_session_ends_at_its_absolute_lifetime(secure_app, login_as):
    client = login_as("c_cl11")
    with client.session_transaction() as s:
        s["ra_started"] = time.time() - 8 * 60 * 60 - 1
        s["ra_seen"] = time.time() - 5          # active a moment ago
    response = client.get("/retiree/list/")
    assert response.status_code == 302 and "/login/" in response.location


def test_a_session_forged_without_login_times_is_refused(secure_app, login_as):
    client = login_as("c_cl11")
    with client.session_transaction() as s:
        s.pop("ra_started")
    assert client.get("/retiree/list/").status_code == 302


def test_lifetimes_are_configurable(app_factory):
    app = app_factory(SESSION_IDLE_MINUTES=5, SESSION_ABSOLUTE_MINUTES=60)
    client = app.test_client()
    client.post("/login/", data={"username": "c_cl11", "password": "Test@2024pw"})
    assert client.get("/retiree/list/").status_code == 200
    with client.session_transaction() as s:
        s["ra_seen"] = time.time() - 6 * 60
    assert client.get("/retiree/list/").status_code == 302


def test_login_starts_a_fresh_session(secure_app):
    """No session fixation: what was in the session before login is gone."""
    client = secure_app.test_client()
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    form_login(client, "c_cl11")
    with client.session_transaction() as s:
        assert "planted" not in s


# --- logout ----------------------------------------------------------------------------

def test_logout_by_get_is_refused(secure_app, login_as):
    client = login_as("c_cl11")
    assert client.get("/logout/").status_code == 405
    assert client.get("/retiree/list/").status_code == 200


def test_logout_post_without_csrf_token_is_refused(secure_app, login_as):
    client = login_as("c_cl11")
    assert client.post("/logout/").status_code == 400
    assert client.get("/retiree/list/").status_code == 200


def test_logout_post_with_csrf_token_ends_the_session(secure_app, login_as, audit):
    client = login_as("c_cl11")
    token = csrf_token(client, "/retiree/list/")
    response = client.post("/logout/", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/retiree/list/").status_code == 302
    assert audit(action="logout", actor="c_cl11", outcome="success")


# --- revocation (issue #12, item 14) ------------------------------------------------------

NEW_PASSWORD = "Hv7#pLq2Ws9e"


def _replay(app, cookie: str):
    """Another browser presenting a captured session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def _logged_out(client) -> bool:
    response = client.get("/retiree/list/")
    return response.status_code == 302 and "/login/" in response.location


def test_a_cookie_captured_before_logout_no_longer_works(secure_app, login_as):
    client = login_as("c_cl11")
    captured = client.get_cookie("session").value
    assert not _logged_out(_replay(secure_app, captured))
    client.post("/logout/", data={"csrf_token": csrf_token(client, "/retiree/list/")})
    assert _logged_out(_replay(secure_app, captured))


def test_logout_ends_every_session_and_token_of_the_user(secure_app, login_as):
    first, second = login_as("c_cl11"), login_as("c_cl11")
    token = api_login(secure_app.test_client(), "c_cl11").json["access_token"]
    first.post("/logout/", data={"csrf_token": csrf_token(first, "/retiree/list/")})
    assert _logged_out(second)
    assert secure_app.test_client().get(
        "/api/v1/retiree/", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_password_change_ends_the_other_sessions_and_tokens(secure_app, login_as):
    changing, other = login_as("c_cl11"), login_as("c_cl11")
    body = api_login(secure_app.test_client(), "c_cl11", refresh=True).json
    response = changing.post("/resetmypassword/form", data={
        "csrf_token": csrf_token(changing, "/resetmypassword/form"), "current": PASSWORD,
        "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert not _logged_out(changing), "the session that changed it goes on"
    assert _logged_out(other)
    api = secure_app.test_client()
    assert api.get("/api/v1/retiree/", headers={
        "Authorization": f"Bearer {body['access_token']}"}).status_code == 401
    assert api.post("/api/v1/security/refresh", headers={
        "Authorization": f"Bearer {body['refresh_token']}"}).status_code == 401


def test_an_administrators_reset_ends_the_users_sessions(secure_app, login_as):
    from core.extensions import db
    from core.security import RegionUser

    client = login_as("c_cl11")
    with secure_app.app_context():
        user = db.session.query(RegionUser).filter_by(username="c_cl11").one()
        secure_app.appbuilder.sm.reset_password(user.id, NEW_PASSWORD)
    assert _logged_out(client)


@pytest.mark.parametrize("change", ["lock", "disable"])
def test_lock_and_disable_end_an_open_browser_session(secure_app, login_as, change):
    from datetime import datetime

    from tests.security.conftest import set_user

    client = login_as("c_cl11")
    captured = client.get_cookie("session").value
    if change == "lock":
        set_user(secure_app, "c_cl11", locked_until=datetime.now() + timedelta(minutes=30))
    else:
        set_user(secure_app, "c_cl11", active=False)
    assert _logged_out(client)
    # Unlocked or enabled again, the old cookie stays dead.
    set_user(secure_app, "c_cl11", locked_until=None, active=True)
    assert _logged_out(_replay(secure_app, captured))
    assert not _logged_out(login_as("c_cl11"))


def test_lockout_by_failed_logins_ends_the_users_open_session(secure_app, login_as, audit):
    client = login_as("c_cl11")
    for _ in range(5):
        form_login(secure_app.test_client(), "c_cl11", "Wrong@2024pw")
    assert _logged_out(client)
    assert audit(action="logout", actor="c_cl11")[-1]["detail"] == {"reason": "session_revoked"}


def test_navbar_logs_out_with_a_csrf_protected_form(secure_app, login_as):
    page = login_as("c_cl11").get("/retiree/list/").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/logout/"[^>]*>\s*<input type="hidden" '
                     r'name="csrf_token"', page)
    assert 'href="/logout/"' not in page


# --- cookies and caching ----------------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_lax(secure_app):
    cookie = _session_cookie(form_login(secure_app.test_client(), "c_cl11"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http (development)


def test_session_cookie_is_secure_over_https(secure_app):
    client = secure_app.test_client()
    page = client.get("/login/", base_url="https://localhost")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    response = client.post("/login/", base_url="https://localhost", data={
        "username": "c_cl11", "password": "Test@2024pw", "csrf_token": token.group(1)})
    assert "; Secure" in _session_cookie(response)


@pytest.mark.parametrize("path", ["/login/", "/retiree/list/", "/retiree/show/{id}",
                                  "/api/v1/retiree/{id}", "/retiree/print/{id}"])
def test_login_and_pages_showing_a_person_are_not_cached(secure_app, login_as,
                                                         create_retiree, path):
    rid = create_retiree()
    client = login_as("c_cl11")
    if path == "/login/":
        client = secure_app.test_client()
    response = client.get(path.format(id=rid))
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


# --- CSRF --------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "data"), [
    ("/retiree/add", {"name": "张三"}),
    ("/plugins/switch", {"plugin": "fees", "region": "1", "enabled": "1"}),
    ("/resetmypassword/form", {"current": "x", "password": "Abc@12345", "conf_password": "Abc@12345"}),
    ("/release/add", {"purpose": "x"}),
])
def test_state_changing_forms_need_the_csrf_token(secure_app, login_as, path, data):
    client = login_as("admin")
    response = client.post(path, data=data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "页面已过期（安全校验未通过）" in text and "navbar" in text


def test_api_write_with_the_browser_session_needs_the_csrf_token(secure_app, login_as,
                                                                  retiree_payload):
    client = login_as("admin")
    assert client.post("/api/v1/retiree/", json=retiree_payload(1)).status_code == 400
    token = csrf_token(client, "/retiree/list/")
    response = client.post("/api/v1/retiree/", json=retiree_payload(1),
                           headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.json


def test_api_write_with_a_bearer_token_needs_no_csrf_token(secure_app, retiree_payload):
    client = secure_app.test_client()
    token = api_login(client, "admin").json["access_token"]
    response = secure_app.test_client().post(
        "/api/v1/retiree/", json=retiree_payload(1),
        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json


def test_csrf_protect_is_registered_before_appbuilder(secure_app):
    """API login must work with CSRF on (FAB_NOTES: API blueprints are exempted)."""
    assert api_login(secure_app.test_client(), "c_cl11").status_code == 200


# --- JWT ---------------------------------------------------------------------------------

def test_jwt_access_tokens_are_short_lived(secure_app):
    import jwt

    body = api_login(secure_app.test_client(), "c_cl11", refresh=True).json
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 15 * 60
    refresh = jwt.decode(body["refresh_token"], options={"verify_signature": False})
    assert refresh["exp"] - refresh["iat"] <= 8 * 60 * 60


def test_refresh_is_refused_once_the_user_is_locked(secure_app):
    from datetime import datetime

    from tests.security.conftest import set_user

    body = api_login(secure_app.test_client(), "c_cl11", refresh=True).json
    headers = {"Authorization": f"Bearer {body['refresh_token']}"}
    assert secure_app.test_client().post("/api/v1/security/refresh",
                                         headers=headers).status_code == 200
    set_user(secure_app, "c_cl11", locked_until=datetime.now() + timedelta(minutes=30))
    assert secure_app.test_client().post("/api/v1/security/refresh",
                                         headers=headers).status_code == 401
    access = {"Authorization": f"Bearer {body['access_token']}"}
    assert secure_app.test_client().get("/api/v1/retiree/", headers=access).status_code == 401


# --- CSP -----------------------------------------------------------------------------------

def test_csp_allows_only_our_own_host_and_nonced_scripts(secure_app, login_as):
    response = login_as("admin").get("/retiree/list/")
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"]).group(1)
    for name, value in directives.items():
        assert "*" not in value and "http" not in value, (name, value)
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"]
    page = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts
    for tag in scripts:
        assert "src=\"http" not in tag and "src=\"//" not in tag, tag
        if "src=" not in tag and "application/json" not in tag:
            assert f'nonce="{nonce}"' in tag, f"inline script without the nonce: {tag}"
    assert " onclick=" not in page and "javascript:" not in page


def test_nonce_differs_per_response(secure_app):
    client = secure_app.test_client()
    first = client.get("/login/").headers["Content-Security-Policy"]
    second = client.get("/login/").headers["Content-Security-Policy"]
    assert first != second


def test_frames_are_refused(secure_app):
    response = secure_app.test_client().get("/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --- redirects -------------------------------------------------------------------------------

EVIL = ["//evil.example/x", "/\\evil.example/x", "\\\\evil.example", "https://evil.example/",
        "http:evil.example", "javascript:alert(1)", "/%0a/evil.example", "///evil.example",
        "\t//evil.example"]


@pytest.mark.parametrize("target", EVIL)
def test_login_never_redirects_off_site(secure_app, target):
    response = form_login(secure_app.test_client(), "c_cl11", next_url=target)
    assert response.status_code == 302
    assert response.location in ("/", "http://localhost/"), response.location


@pytest.mark.parametrize("target", EVIL)
def test_forged_host_header_cannot_widen_safe_redirects(secure_app, target):
    """CVE-2025-32962: with Host: evil.example, next=//evil.example/x stays on site."""
    client = secure_app.test_client()
    page = client.get("/login/", headers={"Host": "evil.example"})
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    response = client.post(f"/login/?next={target}", headers={"Host": "evil.example"},
                           data={"username": "c_cl11", "password": "Test@2024pw",
                                 "csrf_token": token.group(1)})
    assert response.status_code == 302
    assert response.location in ("/", "http://evil.example/"), response.location


def test_already_logged_in_user_is_not_redirected_off_site(secure_app, login_as):
    client = login_as("c_cl11")
    for target in EVIL:
        response = client.get(f"/login/?next={target}")
        assert response.status_code == 302 and response.location in ("/", "http://localhost/")


def test_internal_next_is_kept(secure_app):
    response = form_login(secure_app.test_client(), "c_cl11", next_url="/retiree/list/")
    assert response.location.endswith("/retiree/list/")


def test_trusted_hosts_refuse_other_hosts_when_configured(app_factory):
    app = app_factory(TRUSTED_HOSTS=["retiree.example.cn"])
    assert app.test_client().get("/login/", headers={"Host": "evil.example"}).status_code == 400
    assert app.test_client().get("/login/", headers={"Host": "retiree.example.cn"}).status_code == 200
