"""The optional TOTP second factor (pyotp): enrolment, the code on the form and the API
login, a wrong code answered like a wrong password and counted for the lockout, and
enrolment made mandatory for roles listed in TOTP_REQUIRED_ROLES."""
from __future__ import annotations

import pyotp

from tests.security.conftest import api_login, csrf_token, form_login, get_user, set_user


def _ok(response) -> bool:
    return response.status_code == 302 and "/login" not in response.location


def _enrol(client) -> str:
    page = client.get("/totp/").get_data(as_text=True)
    import re

    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    client.post("/totp/", data={"csrf_token": csrf_token(client, "/totp/"),
                                "code": pyotp.TOTP(secret).now()})
    return secret


def test_enrolment_needs_a_valid_code(secure_app, login_as, audit):
    client = login_as("c_cl11")
    client.get("/totp/")
    client.post("/totp/", data={"csrf_token": csrf_token(client, "/totp/"), "code": "000000"})
    assert get_user(secure_app, "c_cl11").totp_secret is None
    secret = _enrol(client)
    assert get_user(secure_app, "c_cl11").totp_secret == secret
    assert audit(action="totp")[-1]["detail"] == {"enabled": True}


def test_enrolled_user_needs_the_code_on_the_form(secure_app, login_as):
    secret = _enrol(login_as("c_cl11"))
    assert not _ok(form_login(secure_app.test_client(), "c_cl11"))
    assert not _ok(form_login(secure_app.test_client(), "c_cl11", totp="123456"))
    assert _ok(form_login(secure_app.test_client(), "c_cl11", totp=pyotp.TOTP(secret).now()))


def test_enrolled_user_needs_the_code_on_the_api(secure_app, login_as):
    secret = _enrol(login_as("c_cl11"))
    assert api_login(secure_app.test_client(), "c_cl11").status_code == 401
    assert api_login(secure_app.test_client(), "c_cl11",
                     totp=pyotp.TOTP(secret).now()).status_code == 200


def test_wrong_code_counts_towards_the_lockout(secure_app, login_as):
    _enrol(login_as("c_cl11"))
    for _ in range(5):
        form_login(secure_app.test_client(), "c_cl11", totp="000000")
    assert get_user(secure_app, "c_cl11").locked_until is not None


def test_wrong_code_gets_the_same_answer_as_a_wrong_password(secure_app, login_as):
    _enrol(login_as("c_cl11"))
    wrong_code = api_login(secure_app.test_client(), "c_cl11", totp="000000")
    wrong_password = api_login(secure_app.test_client(), "c_cl12", "Wrong@2024pw")
    assert (wrong_code.status_code, wrong_code.data) == \
        (wrong_password.status_code, wrong_password.data)


def test_totp_can_be_mandatory_for_city_level_administrators(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True, TOTP_REQUIRED_ROLES=["city_admin"])
    client = app.test_client()
    assert _ok(form_login(client, "city"))
    response = client.get("/retiree/list/")
    assert response.status_code == 302 and response.location.endswith("/totp/")
    assert api_login(app.test_client(), "city").status_code == 403
    # a role not listed is not forced
    other = app.test_client()
    form_login(other, "c_cl11")
    assert other.get("/retiree/list/").status_code == 200
    secret = _enrol(client)
    assert client.get("/retiree/list/").status_code == 200
    assert api_login(app.test_client(), "city", totp=pyotp.TOTP(secret).now()).status_code == 200


def test_mandatory_totp_cannot_be_switched_off(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True, TOTP_REQUIRED_ROLES=["city_admin"])
    client = app.test_client()
    form_login(client, "city")
    secret = _enrol(client)
    client.post("/totp/", data={"csrf_token": csrf_token(client, "/totp/"), "op": "disable",
                                "code": pyotp.TOTP(secret).now()})
    assert get_user(app, "city").totp_secret == secret


def test_secret_is_not_shown_once_enrolled(secure_app, login_as):
    client = login_as("c_cl11")
    secret = _enrol(client)
    assert secret not in client.get("/totp/").get_data(as_text=True)
    set_user(secure_app, "c_cl11", totp_secret=None)
