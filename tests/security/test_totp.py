"""The optional TOTP second factor (pyotp): enrolment, the code on the form and the API
login, a wrong code answered like a wrong password and counted for the lockout, and
enrolment made mandatory for roles listed in TOTP_REQUIRED_ROLES; no code accepted
twice, the pending secret kept server-side, secrets encrypted at rest (issue #12, 15)."""
from __future__ import annotations

import re
import time

import pyotp
from sqlalchemy import text

from tests.security.conftest import api_login, csrf_token, form_login, get_user, set_user


def _ok(response) -> bool:
    return response.status_code == 302 and "/login" not in response.location


def _later(secret: str) -> str:
    """The code of the next time step (the one of enrolment is spent)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _enrol(client) -> str:
    page = client.get("/totp/").get_data(as_text=True)
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
    assert _ok(form_login(secure_app.test_client(), "c_cl11", totp=_later(secret)))


def test_enrolled_user_needs_the_code_on_the_api(secure_app, login_as):
    secret = _enrol(login_as("c_cl11"))
    assert api_login(secure_app.test_client(), "c_cl11").status_code == 401
    assert api_login(secure_app.test_client(), "c_cl11",
                     totp=_later(secret)).status_code == 200


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
    assert api_login(app.test_client(), "city", totp=_later(secret)).status_code == 200


def test_mandatory_totp_cannot_be_switched_off(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True, TOTP_REQUIRED_ROLES=["city_admin"])
    client = app.test_client()
    form_login(client, "city")
    secret = _enrol(client)
    client.post("/totp/", data={"csrf_token": csrf_token(client, "/totp/"), "op": "disable",
                                "code": _later(secret)})
    assert get_user(app, "city").totp_secret == secret


def test_secret_is_not_shown_once_enrolled(secure_app, login_as):
    client = login_as("c_cl11")
    secret = _enrol(client)
    assert secret not in client.get("/totp/").get_data(as_text=True)
    set_user(secure_app, "c_cl11", totp_secret=None)


# --- issue #12, item 15 ---------------------------------------------------------------------

def test_a_code_is_refused_the_second_time_within_its_window(secure_app, login_as):
    secret = _enrol(login_as("c_cl11"))
    code = _later(secret)
    assert _ok(form_login(secure_app.test_client(), "c_cl11", totp=code))
    assert not _ok(form_login(secure_app.test_client(), "c_cl11", totp=code))
    assert api_login(secure_app.test_client(), "c_cl11", totp=code).status_code == 401


def test_the_enrolment_code_cannot_be_replayed_to_log_in(secure_app, login_as):
    client = login_as("c_cl11")
    page = client.get("/totp/").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    code = pyotp.TOTP(secret).now()
    client.post("/totp/", data={"csrf_token": csrf_token(client, "/totp/"), "code": code})
    assert get_user(secure_app, "c_cl11").totp_secret == secret
    assert api_login(secure_app.test_client(), "c_cl11", totp=code).status_code == 401


def test_an_older_step_is_refused_after_a_newer_one(secure_app, login_as):
    secret = _enrol(login_as("c_cl11"))
    assert _ok(form_login(secure_app.test_client(), "c_cl11", totp=_later(secret)))
    assert not _ok(form_login(secure_app.test_client(), "c_cl11",
                              totp=pyotp.TOTP(secret).at(time.time() - 30)))


def test_the_pending_secret_is_kept_server_side_not_in_the_cookie(secure_app, login_as):
    from flask.sessions import SecureCookieSessionInterface

    client = login_as("c_cl11")
    page = client.get("/totp/").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    serializer = SecureCookieSessionInterface().get_signing_serializer(secure_app)
    cookie = serializer.loads(client.get_cookie("session").value)
    assert secret not in repr(cookie)
    assert get_user(secure_app, "c_cl11").totp_pending == secret
    # The page shows the same secret until enrolment ends.
    assert secret in client.get("/totp/").get_data(as_text=True)


def _stored_secret(app, username: str) -> str:
    from core.extensions import db

    with app.app_context():
        return db.session.scalar(text("SELECT totp_secret FROM ab_user WHERE username = :u"),
                                 {"u": username})


def test_secrets_are_encrypted_at_rest_with_the_configured_key(app_factory):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    app = app_factory(WTF_CSRF_ENABLED=True, TOTP_ENCRYPTION_KEY=key)
    client = app.test_client()
    assert _ok(form_login(client, "c_cl11"))
    secret = _enrol(client)
    stored = _stored_secret(app, "c_cl11")
    assert secret not in stored
    assert Fernet(key.encode()).decrypt(stored.encode()).decode() == secret
    assert _ok(form_login(app.test_client(), "c_cl11", totp=_later(secret)))


def test_the_migration_encrypts_secrets_stored_in_clear(secure_app):
    from flask_migrate import downgrade, upgrade

    from core.auth.secrets import decrypt
    from core.extensions import db

    secret = pyotp.random_base32()
    with secure_app.app_context():
        downgrade(revision="0002_security")
        db.session.execute(text("UPDATE ab_user SET totp_secret = :s WHERE username = 'c_cl11'"),
                           {"s": secret})
        db.session.commit()
        upgrade(revision="heads")
    stored = _stored_secret(secure_app, "c_cl11")
    assert stored != secret
    with secure_app.app_context():
        assert decrypt(stored) == secret
