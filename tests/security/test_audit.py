"""Audit trail: who, when, IP, action, object, outcome for every required event; append-
only (no screen, API, ORM path or SQL UPDATE/DELETE changes it); hash-chained so that
``retiree-admin audit verify`` finds an altered or missing entry; the purge never drops
an entry younger than the retention; the audit screen and its xlsx export."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import text

from core.testing import PASSWORD
from tests.security.conftest import csrf_token, form_login, get_user

FIELDS = {"seq", "actor", "ip", "action", "object_type", "object_id", "outcome", "detail"}


def _last(audit, **where):
    found = audit(**where)
    assert found, f"no audit entry {where}"
    return found[-1]


# --- what is recorded ---------------------------------------------------------------------

def test_login_success_and_failure_are_audited_with_ip(secure_app, audit):
    form_login(secure_app.test_client(), "c_cl11")
    form_login(secure_app.test_client(), "c_cl11", "Wrong@2024pw")
    form_login(secure_app.test_client(), "nobody", "Wrong@2024pw")
    ok = _last(audit, action="login", outcome="success")
    assert ok["actor"] == "c_cl11" and ok["ip"] == "127.0.0.1"
    assert ok["object_id"] == str(get_user(secure_app, "c_cl11").id)
    bad = audit(action="login", outcome="failure")
    assert {b["detail"]["reason"] for b in bad} == {"password", "unknown_user"}


def test_lockout_is_audited(secure_app, audit):
    for _ in range(5):
        form_login(secure_app.test_client(), "c_cl11", "Wrong@2024pw")
    entry = _last(audit, action="lockout")
    assert entry["actor"] == "c_cl11" and entry["detail"]["failures"] == 5
    form_login(secure_app.test_client(), "c_cl11")
    assert _last(audit, action="login", outcome="failure")["detail"]["reason"] == "locked"


def test_denied_request_is_audited(secure_app, login_as, audit):
    client = login_as("sup")
    assert client.get("/retiree/add").status_code == 403
    entry = _last(audit, action="denied")
    assert entry["actor"] == "sup" and entry["outcome"] == "denied"
    assert entry["detail"]["path"] == "/retiree/add"


@pytest.mark.parametrize(("path", "action"), [
    ("/retiree/show/{id}", "person.open"), ("/api/v1/retiree/{id}", "person.open"),
    ("/retiree/edit/{id}", "person.edit"), ("/retiree/print/{id}", "person.print"),
    ("/retiree/card/{id}", "person.card")])
def test_opening_a_persons_full_record_is_audited(secure_app, login_as, audit,
                                                 create_retiree, path, action):
    """Each way of opening a record has its own action (issue #12 item 5)."""
    rid = create_retiree()
    assert login_as("c_cl11").get(path.format(id=rid)).status_code == 200
    entry = _last(audit, action=action)
    assert (entry["actor"], entry["object_type"], entry["object_id"]) == \
        ("c_cl11", "Retiree", str(rid))


def test_list_pages_do_not_count_as_opening_a_record(secure_app, login_as, audit,
                                                     create_retiree):
    create_retiree()
    login_as("c_cl11").get("/retiree/list/")
    assert audit(action="person.open") == []


def test_create_and_update_are_audited_with_a_masked_field_diff(secure_app, login_as, audit,
                                                               retiree_payload):
    client = login_as("admin")
    token = csrf_token(client, "/retiree/list/")
    headers = {"X-CSRFToken": token}
    payload = retiree_payload(1)
    rid = client.post("/api/v1/retiree/", json=payload, headers=headers).json["id"]
    created = _last(audit, action="create", object_type="Retiree")
    assert created["object_id"] == str(rid) and created["actor"] == "admin"
    assert created["detail"]["name"] == "张三"
    assert created["detail"]["id_card_no"] == payload["id_card_no"][:6] + "*" * 12
    assert payload["id_card_no"] not in str(audit())
    assert created["detail"]["phone"] == "138****5678"
    assert created["detail"]["serious_illness"] == "******"

    client.put(f"/api/v1/retiree/{rid}", json={"phone": "13987654321",
                                               "residence_address": "苏州市沧浪区新址1号"},
               headers=headers)
    updated = _last(audit, action="update", object_type="Retiree")
    assert updated["detail"]["phone"] == ["138****5678", "139****4321"]
    assert updated["detail"]["residence_address"] == ["苏州市沧浪区十全街1号", "苏州市沧浪区新址1号"]
    assert "13987654321" not in str(audit())


def test_removal_is_audited(secure_app, login_as, audit, create_retiree):
    rid = create_retiree()
    client = login_as("c_cl11")
    path = f"/retiree/remove/{rid}"
    client.post(path, data={"csrf_token": csrf_token(client, path), "reason": "重复录入"})
    entry = _last(audit, action="remove", object_id=str(rid))
    assert entry["detail"]["management_state"][1] == "removed"


def test_export_is_audited(secure_app, login_as, audit, create_retiree):
    create_retiree()
    assert login_as("c_cl11").get("/retiree/export/").status_code == 200
    entry = _last(audit, action="export", object_type="Retiree")
    assert entry["actor"] == "c_cl11" and entry["detail"]["rows"] == 1


def test_import_is_audited(secure_app, audit, import_file):
    from core.extensions import db
    from core.registry.jobs import import_job

    path, _bad = import_file(3)

    class Job:
        id = 1
        created_by = "s_cl1"

    with secure_app.app_context():
        import_job(Job(), {"path": str(path)}, lambda *a: None)
        db.session.commit()
    entry = _last(audit, action="import")
    assert entry["actor"] == "s_cl1" and entry["detail"]["总行数"] == 3


def test_plugin_switch_is_audited(secure_app, login_as, audit, region_id):
    client = login_as("d_cl")
    token = csrf_token(client, "/plugins/")
    client.post("/plugins/switch", data={"csrf_token": token, "plugin": "fees",
                                         "region": region_id("320502"), "enabled": "1"})
    entry = _last(audit, action="create", object_type="PluginSetting")
    assert entry["actor"] == "d_cl" and entry["detail"]["plugin"] == "fees"


def test_user_and_role_changes_are_audited(secure_app, make_user, login_as, audit):
    make_user("sec", "security_admin", "320500")
    created = _last(audit, action="create", object_type="RegionUser")
    assert created["detail"]["username"] == "sec" and created["detail"]["password"] == "******"
    client = login_as("sec")
    from flask_appbuilder.security.sqla.models import Role
    from sqlalchemy import select

    from core.extensions import db

    with secure_app.app_context():
        supervisor = db.session.scalar(select(Role.id).where(Role.name == "supervisor"))
    user = get_user(secure_app, "c_cl11")
    path = f"/users/edit/{user.id}"
    client.post(path, data={"csrf_token": csrf_token(client, path), "username": "c_cl11",
                            "first_name": "c_cl11", "last_name": "x", "email": user.email,
                            "region": user.region_id, "roles": supervisor, "active": "y"})
    entry = _last(audit, action="update", object_type="RegionUser", object_id=str(user.id))
    assert entry["actor"] == "sec"
    assert entry["detail"]["roles"] == [["community_staff"], ["supervisor"]]


def test_logout_is_audited(secure_app, login_as, audit):
    client = login_as("c_cl11")
    client.post("/logout/", data={"csrf_token": csrf_token(client, "/retiree/list/")})
    assert _last(audit, action="logout")["actor"] == "c_cl11"


def test_every_entry_has_who_when_where_what_outcome(secure_app, login_as, audit):
    login_as("c_cl11").get("/retiree/list/")
    for entry in audit():
        assert set(entry) >= FIELDS and entry["actor"] and entry["action"] and entry["outcome"]


# --- append-only --------------------------------------------------------------------------

def test_audit_entries_cannot_be_changed_or_deleted_through_the_orm(secure_app, login_as):
    from sqlalchemy import delete, select, update

    from core.audit.models import AuditEntry
    from core.extensions import db

    login_as("c_cl11")
    with secure_app.app_context():
        entry = db.session.scalars(select(AuditEntry)).first()
        entry.actor = "someone else"
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()
        entry = db.session.scalars(select(AuditEntry)).first()
        db.session.delete(entry)
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(PermissionError):
            db.session.execute(update(AuditEntry).values(actor="x"))
        with pytest.raises(PermissionError):
            db.session.execute(delete(AuditEntry))
        with pytest.raises(PermissionError):
            db.session.add(AuditEntry(seq=999, at=datetime.now(), actor="forged", action="x",
                                      outcome="success", prev_hash="0", hash="0"))
            db.session.flush()


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET actor = 'x'",
                                       "DELETE FROM audit_entry"])
def test_the_database_refuses_update_and_delete_of_entries(secure_app, login_as, statement):
    from core.extensions import db

    login_as("c_cl11")
    with secure_app.app_context():
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_no_screen_or_api_edits_or_deletes_the_trail(secure_app, make_user, login_as):
    make_user("aud", "audit_admin", "320500")
    client = login_as("aud")
    assert client.get("/audit/list/").status_code == 200
    token = csrf_token(client, "/audit/list/")
    for method, path in [("GET", "/audit/add"), ("POST", "/audit/add"),
                         ("GET", "/audit/edit/1"), ("POST", "/audit/edit/1"),
                         ("POST", "/audit/delete/1"), ("GET", "/audit/delete/1"),
                         ("POST", "/api/v1/audit/"), ("PUT", "/api/v1/audit/1"),
                         ("DELETE", "/api/v1/audit/1")]:
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code in (403, 404, 405), (method, path, response.status_code)


# --- chain and verify ----------------------------------------------------------------------

def _tamper(app, statement: str):
    """What someone with raw database access could do: lift the triggers and edit."""
    from core.extensions import db

    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    with app.app_context():
        for trigger in ("audit_entry_no_update", "audit_entry_no_delete"):
            db.session.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"
                                    + ("" if sqlite else " ON audit_entry")))
        db.session.execute(text(statement))
        db.session.commit()


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


@pytest.fixture
def some_trail(secure_app, login_as):
    client = login_as("sup")
    for _ in range(3):
        client.get("/retiree/add")   # denied
    form_login(secure_app.test_client(), "c_cl12", "Wrong@2024pw")
    return secure_app


def test_verify_passes_on_an_intact_chain(some_trail):
    result = _verify(some_trail)
    assert result.exit_code == 0, result.output
    assert "哈希链校验通过" in result.output


def test_verify_detects_an_altered_entry(some_trail):
    _tamper(some_trail, "UPDATE audit_entry SET actor = 'someone' WHERE seq = 3")
    result = _verify(some_trail)
    assert result.exit_code != 0
    assert "第 3 条内容被改动" in result.output


def test_verify_detects_a_recomputed_plain_hash(some_trail):
    """Without the key, an edited entry cannot be given a valid hash."""
    import hashlib

    _tamper(some_trail, f"UPDATE audit_entry SET actor = 'x', hash = "
                        f"'{hashlib.sha256(b'x').hexdigest()}' WHERE seq = 2")
    assert _verify(some_trail).exit_code != 0


def test_verify_detects_a_missing_entry(some_trail):
    _tamper(some_trail, "DELETE FROM audit_entry WHERE seq = 2")
    result = _verify(some_trail)
    assert result.exit_code != 0 and "缺少第 2–2 条" in result.output


def test_verify_detects_a_removed_last_entry(some_trail):
    _tamper(some_trail, "DELETE FROM audit_entry WHERE seq = (SELECT max(seq) FROM audit_entry)")
    result = _verify(some_trail)
    assert result.exit_code != 0 and "末尾被删除" in result.output


# --- truncation (issue #12, item 13) ------------------------------------------------------

AUDIT_TABLES = ("audit_entry", "audit_head", "audit_checkpoint")


def _as_owner(app, *statements):
    """What the database owner could do: switch every audit trigger off, then edit."""
    from core.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            for (name,) in db.session.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'")).all():
                db.session.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in AUDIT_TABLES:
                db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for statement in statements:
            db.session.execute(text(statement))
        db.session.commit()


def _many_entries(app, n: int):
    from core.audit.trail import append, entry
    from core.extensions import db

    with app.app_context():
        append(db.session.connection(), [entry("denied", "denied", detail={"i": i})
                                         for i in range(n)])
        db.session.commit()


def _head(app):
    from core.extensions import db

    with app.app_context():
        return db.session.execute(text("SELECT seq, last_hash, base_seq, base_hash "
                                       "FROM audit_head")).one()


def _hash_of(app, seq: int, column: str = "hash") -> str:
    from core.extensions import db

    with app.app_context():
        return db.session.scalar(text(f"SELECT {column} FROM audit_entry WHERE seq = {seq}"))


def test_verify_detects_a_rewound_head(some_trail):
    """The last entries deleted and the head rewound onto the one before them."""
    assert _verify(some_trail).exit_code == 0
    seq = _head(some_trail).seq
    _as_owner(some_trail, f"DELETE FROM audit_entry WHERE seq > {seq - 2}",
              f"UPDATE audit_head SET seq = {seq - 2}, "
              f"last_hash = '{_hash_of(some_trail, seq - 2)}'")
    result = _verify(some_trail)
    assert result.exit_code != 0 and "审计链头被回退" in result.output


def test_verify_detects_the_first_300_entries_removed_and_the_base_moved(some_trail):
    _many_entries(some_trail, 320)
    assert _verify(some_trail).exit_code == 0
    _as_owner(some_trail, "DELETE FROM audit_entry WHERE seq <= 300",
              f"UPDATE audit_head SET base_seq = 301, "
              f"base_hash = '{_hash_of(some_trail, 301, 'prev_hash')}'")
    result = _verify(some_trail)
    assert result.exit_code != 0
    assert "起点被移动到第 301 条，但没有经签名的清理记录" in result.output


def test_verify_detects_everything_deleted_through_the_checkpoint_file(app_factory, tmp_path):
    """Entries, head and checkpoints of the database all wiped: the file outside it
    still knows how far the trail reached."""
    from core.audit.models import GENESIS

    app = app_factory(AUDIT_CHECKPOINT_FILE=str(tmp_path / "audit-checkpoints.jsonl"))
    _many_entries(app, 5)
    assert _verify(app).exit_code == 0
    reached = _head(app).seq
    _as_owner(app, "DELETE FROM audit_entry", "DELETE FROM audit_checkpoint",
              f"UPDATE audit_head SET seq = 0, last_hash = '{GENESIS}', base_seq = 1, "
              f"base_hash = '{GENESIS}'")
    result = _verify(app)
    assert result.exit_code != 0
    assert f"链头被回退：检查点记录到第 {reached} 条，链头只到第 0 条" in result.output


def test_verify_detects_a_forged_checkpoint(some_trail):
    _as_owner(some_trail, "INSERT INTO audit_checkpoint (at, seq, last_hash, base_seq, "
                          "base_hash, signature) VALUES ('2026-01-01 00:00:00', 1, 'x', 2, "
                          f"'y', '{'0' * 64}')")
    result = _verify(some_trail)
    assert result.exit_code != 0 and "签名不符" in result.output


@pytest.mark.parametrize("statement", [
    "UPDATE audit_head SET seq = seq - 1",
    "UPDATE audit_head SET last_hash = 'x'",
    "UPDATE audit_head SET base_seq = 3, base_hash = 'x'",      # over young entries
    "UPDATE audit_head SET base_hash = 'x'",
    "DELETE FROM audit_head",
    "INSERT INTO audit_head (id, seq, last_hash, base_seq, base_hash) VALUES (2, 0, 'x', 1, 'x')",
    "DELETE FROM audit_entry WHERE seq = 1",
    "DELETE FROM audit_checkpoint",
    "UPDATE audit_checkpoint SET seq = 0",
])
def test_the_database_protects_the_head_the_base_and_the_checkpoints(some_trail, statement):
    from sqlalchemy.exc import DatabaseError

    from core.extensions import db

    assert _verify(some_trail).exit_code == 0
    before = _head(some_trail)
    with some_trail.app_context():
        with pytest.raises(DatabaseError):
            db.session.execute(text(statement))
            db.session.commit()
        db.session.rollback()
    assert _head(some_trail) == before
    assert _verify(some_trail).exit_code == 0


def test_the_app_role_cannot_drop_or_disable_the_audit_triggers(secure_app):
    """PostgreSQL: the application's role (not the owner) changes data and purges, but
    cannot lift the triggers that keep the trail append-only. SQLite has no roles: the
    command refuses there, saying so."""
    import uuid

    from sqlalchemy.exc import DatabaseError, ProgrammingError

    from core.audit.trail import append, entry, purge, verify
    from core.extensions import db

    if secure_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        result = secure_app.test_cli_runner().invoke(args=["audit", "grant-app-role", "x"])
        assert result.exit_code != 0 and "仅 PostgreSQL" in result.output
        return
    role = f"ra_app_test_{uuid.uuid4().hex[:12]}"   # roles are cluster-wide: unique per run
    with secure_app.app_context():
        db.session.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        db.session.commit()
    try:
        result = secure_app.test_cli_runner().invoke(args=["audit", "grant-app-role", role])
        assert result.exit_code == 0, result.output
        with secure_app.app_context():
            connection = db.session.connection()
            connection.execute(text(f'SET ROLE "{role}"'))
            append(connection, [entry("denied", "denied")])      # the app still records
            connection.execute(text("SAVEPOINT s"))
            for statement in ["DROP TRIGGER audit_entry_no_delete ON audit_entry",
                              "ALTER TABLE audit_entry DISABLE TRIGGER ALL",
                              "ALTER TABLE audit_head DISABLE TRIGGER USER",
                              "SET session_replication_role = replica",
                              "TRUNCATE audit_entry",
                              "DELETE FROM audit_entry",
                              "UPDATE audit_head SET seq = 0"]:
                with pytest.raises((ProgrammingError, DatabaseError)):
                    connection.execute(text(statement))
                connection.execute(text("ROLLBACK TO SAVEPOINT s"))
            assert purge(db.session, 180) == 0       # the purge needs no DDL
            db.session.connection().execute(text(f'SET ROLE "{role}"'))
            assert verify(db.session) == []
            db.session.rollback()
    finally:
        with secure_app.app_context():
            db.session.rollback()
            db.session.execute(text("RESET ROLE"))
            db.session.execute(text(f'DROP OWNED BY "{role}"'))
            db.session.execute(text(f'DROP ROLE "{role}"'))
            db.session.commit()


# --- retention -----------------------------------------------------------------------------

def _age(app, seqs, days):
    _tamper(app, f"UPDATE audit_entry SET at = '{datetime.now() - timedelta(days=days):%Y-%m-%d %H:%M:%S}' "
                 f"WHERE seq IN ({','.join(map(str, seqs))})")


def test_purge_keeps_every_entry_younger_than_the_retention(some_trail):
    from sqlalchemy import func, select

    from core.audit.models import AuditEntry
    from core.audit.trail import purge, verify
    from core.extensions import db

    app = some_trail
    _age(app, [1, 2], 200)   # (the tamper helper re-signs nothing: the chain breaks …)
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(AuditEntry))
        with pytest.raises(ValueError):
            purge(db.session, 179)
        removed = purge(db.session, 180)
        assert removed == 2
        left = db.session.scalar(select(func.min(AuditEntry.at)))
        assert left >= datetime.now() - timedelta(days=180)
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == total - 2 + 1
        # … but the removed entries were the altered ones: what is kept verifies.
        assert verify(db.session) == []


def test_purge_command_refuses_less_than_180_days(secure_app):
    result = secure_app.test_cli_runner().invoke(args=["audit", "purge", "--days", "30"])
    assert result.exit_code != 0 and "180" in result.output


def test_purge_never_drops_a_young_entry_behind_an_old_one(some_trail):
    from sqlalchemy import select

    from core.audit.models import AuditEntry
    from core.audit.trail import purge
    from core.extensions import db

    app = some_trail
    _age(app, [1, 3], 400)   # seq 2 is young, between two old ones
    with app.app_context():
        assert purge(db.session, 180) == 1
        assert 2 in set(db.session.scalars(select(AuditEntry.seq)))


# --- screen and export ---------------------------------------------------------------------

def test_audit_screen_filters(secure_app, make_user, login_as, some_trail):
    make_user("aud", "audit_admin", "320500")
    client = login_as("aud")
    page = client.get("/audit/list/?_flt_0_action=denied").get_data(as_text=True)
    assert page.count("拒绝访问") >= 3 and "<td>登录</td>" not in page
    page = client.get("/audit/list/?_flt_0_actor=c_cl12").get_data(as_text=True)
    assert "c_cl12" in page and "<td>sup</td>" not in page


def test_audit_export_is_xlsx_with_neutralised_cells(secure_app, make_user, login_as, audit):
    form_login(secure_app.test_client(), "=HYPERLINK(\"http://evil\")", PASSWORD)
    make_user("aud", "audit_admin", "320500")
    client = login_as("aud")
    response = client.get("/audit/export/")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert any("HYPERLINK" in v for v in values)
    assert not any(v.startswith("=") for v in values)
    assert _last(audit, action="audit.export")["actor"] == "aud"


def test_only_the_audit_admin_opens_the_audit_screen(secure_app, login_as):
    for username in ("admin", "city", "d_cl", "c_cl11", "sup"):
        assert login_as(username).get("/audit/list/").status_code == 403, username
