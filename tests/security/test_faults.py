"""Issue 12 items 9–12 and issue 13 item 12: faults never change data.

A dead Redis (a real closed port), a retried POST, stale pooled connections after a
database restart (real backends terminated), a form without its version, racing PUTs,
a killed import worker, and job files past their retention."""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from core.testing import PASSWORD, PG_URL
from tests.security.conftest import api_login, form_login

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _count(app, model) -> int:
    from core.extensions import db

    with app.app_context():
        db.session.remove()
        return db.session.scalar(select(func.count()).select_from(model))


def _token(client, username: str = "admin") -> dict:
    response = api_login(client, username)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def _enable_fees(app) -> None:
    from core.extensions import db
    from core.regions import region_by_code

    with app.app_context():
        app.extensions["retiree_admin.plugins"].set_enabled(
            db.session, "fees", region_by_code(db.session, "320500"), True, "test")


def _login(client, username: str = "admin") -> None:
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.location


def _dead_redis_app(app_factory, **extra):
    return app_factory(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=DEAD_REDIS,
                       RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=DEAD_REDIS,
                       WTF_CSRF_ENABLED=True, **{"AUTH_RATE_LIMIT": "1000 per minute", **extra})


# --- item 9: Redis down -------------------------------------------------------------

def test_dead_redis_requests_succeed_nothing_written_twice_logins_work(
        app_factory, retiree_payload, caplog):
    """Cache and rate-limit store on a closed port: the form and API logins work, the
    home page (kept counts) renders, a committed POST answers 201 (not 500, which made
    clients retry), and the retry with the same Idempotency-Key answers the first
    answer: one retiree, one fund income."""
    from core.registry.models import Retiree
    from plugins.fees.models import FundIncome

    app = _dead_redis_app(app_factory)
    _enable_fees(app)
    client = app.test_client()
    caplog.set_level(logging.WARNING)
    login = form_login(client, "admin")
    assert login.status_code == 302 and "/login" not in login.location
    assert client.get("/").status_code == 200
    api = app.test_client()
    headers = _token(api)

    people = _count(app, Retiree)
    payload = retiree_payload(1)
    first = api.post("/api/v1/retiree/", json=payload, headers={**headers, "Idempotency-Key": "reg-1"})
    assert first.status_code == 201, first.get_data(as_text=True)
    again = api.post("/api/v1/retiree/", json=payload, headers={**headers, "Idempotency-Key": "reg-1"})
    assert (again.status_code, again.json) == (201, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Retiree) == people + 1
    assert any("缓存服务不可用" in r.getMessage() for r in caplog.records)

    income = {"source": "donation", "amount": "600.00",
              "received_on": date.today().isoformat(), "from_name": "苏州某慈善基金会"}
    centre = {**_token(api, "city"), "Idempotency-Key": "gift-7"}
    paid = api.post("/api/v1/fund_income/", json=income, headers=centre)
    assert paid.status_code == 201, paid.get_data(as_text=True)
    repaid = api.post("/api/v1/fund_income/", json=income, headers=centre)
    assert (repaid.status_code, repaid.json) == (201, paid.json)
    assert _count(app, FundIncome) == 1
    # The home page after the writes: counted afresh, uncached, still answering.
    assert client.get("/").status_code == 200


def test_dead_redis_rate_limit_counts_in_process_memory(app_factory):
    """The login limit still holds with its store down: counted in memory."""
    app = _dead_redis_app(app_factory, AUTH_RATE_LIMIT="3 per minute")
    client = app.test_client()
    answers = [api_login(client, "admin", password="wrong").status_code for _ in range(4)]
    assert answers[:3] == [401, 401, 401] and answers[3] == 429


# --- item 9: Idempotency-Key --------------------------------------------------------

def test_idempotency_key_reused_with_another_body_is_refused(app, retiree_payload):
    from core.registry.models import Retiree

    api = app.test_client()
    headers = {**_token(api), "Idempotency-Key": "same-key"}
    assert api.post("/api/v1/retiree/", json=retiree_payload(1), headers=headers).status_code == 201
    before = _count(app, Retiree)
    other = api.post("/api/v1/retiree/", json=retiree_payload(2), headers=headers)
    assert other.status_code == 422
    assert "已用于另一个不同的请求" in other.json["message"]
    assert _count(app, Retiree) == before
    bad = api.post("/api/v1/retiree/", json=retiree_payload(3),
                   headers={**headers, "Idempotency-Key": "键"})
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json["message"]
    assert _count(app, Retiree) == before


def test_idempotency_key_concurrent_same_key_writes_once(app, retiree_payload):
    """Two clients send the same key at once: one registers, the other gets the first
    answer or 409 (in progress), never a second row nor 已登记."""
    from core.registry.models import Retiree

    token = _token(app.test_client())
    before = _count(app, Retiree)
    barrier, answers = threading.Barrier(2), []

    def send():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/retiree/", json=retiree_payload(1),
                                   headers={**token, "Idempotency-Key": "twin"}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes in ([201, 201], [201, 409]), [a.get_data(as_text=True) for a in answers]
    created = [a.json["id"] for a in answers if a.status_code == 201]
    assert len(set(created)) == 1
    assert _count(app, Retiree) == before + 1


def test_idempotency_key_replays_a_refusal_and_belongs_to_one_user(app, retiree_payload):
    """A refused request (422) is answered again as refused; a different user's same
    key is their own."""
    from core.registry.models import Retiree

    api = app.test_client()
    bad = retiree_payload(1, phone="12345")
    headers = {**_token(api), "Idempotency-Key": "k-422"}
    first = api.post("/api/v1/retiree/", json=bad, headers=headers)
    assert first.status_code == 422
    assert api.post("/api/v1/retiree/", json=bad, headers=headers).json == first.json
    city = {**_token(api, "city"), "Idempotency-Key": "k-422"}
    assert api.post("/api/v1/retiree/", json=retiree_payload(1), headers=city).status_code == 201
    assert _count(app, Retiree) == 1


# --- item 10: pre-ping --------------------------------------------------------------

def test_stale_pooled_connections_after_database_restart_cost_nobody_a_500(app_factory):
    """The engine tests each pooled connection before use. On PostgreSQL every backend
    of this test's database is terminated (what a restart does to the pool): without
    pre-ping the next request fails, with it the request succeeds."""
    from core.extensions import db

    app = app_factory()
    with app.app_context():
        assert db.engine.pool._pre_ping is True
    if not PG_URL:
        return
    client = app.test_client()
    _login(client)
    assert client.get("/retiree/list/").status_code == 200

    def restart(target):
        with target.app_context():
            url = db.engine.url
        admin = create_engine(url.set(drivername="postgresql+psycopg"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            killed = con.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        admin.dispose()
        assert killed >= 1

    restart(app)
    assert client.get("/retiree/list/").status_code == 200

    fragile = app_factory(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False})
    other = fragile.test_client()
    _login(other)
    restart(fragile)
    with pytest.raises(OperationalError):
        other.get("/retiree/list/")


# --- item 11: lost updates ----------------------------------------------------------

def test_edit_form_without_version_is_refused_and_changes_nothing(app, client_for, create_retiree,
                                                                  retiree_payload):
    from core.extensions import db
    from core.registry.models import Retiree
    from core.scoping import unscoped

    pk = create_retiree(1)
    client_for("city").put(f"/api/v1/retiree/{pk}", json={"phone": "13700001111"})
    clerk = client_for("c_cl11")
    page = clerk.get(f"/retiree/edit/{pk}").get_data(as_text=True)
    assert 'name="version"' in page
    form = {key: ("y" if value is True else "" if value in (None, False) else str(value))
            for key, value in retiree_payload(1, name="王五", phone="13900009999").items()}
    response = clerk.post(f"/retiree/edit/{pk}", data=form)
    assert response.status_code == 200
    assert "表单缺少版本号" in response.get_data(as_text=True)
    with app.app_context(), unscoped():
        row = db.session.get(Retiree, pk)
        assert (row.name, row.phone, row.version) == ("张三", "13700001111", 2)


def test_racing_puts_loser_always_gets_409(app, client_for, create_retiree):
    """Two PUTs of the same version at once, five rounds: one saves, the other gets 409
    with the Chinese message — never 422 "已登记", never a 500."""
    from core.extensions import db
    from core.registry.models import Retiree
    from core.scoping import unscoped

    pk = create_retiree(1)
    token = _token(app.test_client())
    for round_ in range(5):
        with app.app_context(), unscoped():
            db.session.remove()
            version = db.session.get(Retiree, pk).version
        barrier, answers = threading.Barrier(2), []

        def put(phone, barrier=barrier, answers=answers, version=version):
            client = app.test_client()
            barrier.wait()
            answers.append(client.put(f"/api/v1/retiree/{pk}", headers=token,
                                      json={"phone": phone, "version": version}))

        threads = [threading.Thread(target=put, args=(f"1390000{round_}{i}00",))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a.status_code for a in answers) == [200, 409], \
            [a.get_data(as_text=True) for a in answers]
        loser = next(a for a in answers if a.status_code == 409)
        assert "已被他人修改" in loser.json["message"]


def test_put_refused_by_a_number_the_race_winner_took_answers_409(app, create_retiree):
    """The loser's checks run after the winner committed: the winner changed this row
    and gave the number the loser sends to another person. The loser's refusal is a
    lost race (409), not 422 "身份证号…已登记"; nothing of the loser's is written."""
    from core.demo import make_id_card_no
    from core.extensions import db
    from core.registry.models import Retiree
    from core.scoping import unscoped

    pk, other = create_retiree(1), create_retiree(2)
    wanted = make_id_card_no("320502", date(1950, 1, 2), 77, "male")
    with app.app_context():
        engine, url = db.engine, db.engine.url
    winner = create_engine(url)
    fired = []

    def win(conn, cursor, statement, parameters, context, executemany):
        if not fired and "id_card_no" in statement and "retiree.id !=" in statement:
            fired.append(True)
            with winner.begin() as con:
                con.execute(text("UPDATE retiree SET id_card_no = :n, version = version + 1 "
                                 "WHERE id = :o"), {"n": wanted, "o": other})
                con.execute(text("UPDATE retiree SET phone = '13700002222', "
                                 "version = version + 1 WHERE id = :p"), {"p": pk})

    api = app.test_client()
    headers = _token(api)
    event.listen(engine, "before_cursor_execute", win)
    try:
        response = api.put(f"/api/v1/retiree/{pk}", headers=headers,
                           json={"id_card_no": wanted, "version": 1})
    finally:
        event.remove(engine, "before_cursor_execute", win)
        winner.dispose()
    assert fired
    assert response.status_code == 409, response.get_data(as_text=True)
    assert "已被他人修改" in response.json["message"]
    with app.app_context(), unscoped():
        row = db.session.get(Retiree, pk)
        assert (row.phone, row.version) == ("13700002222", 2)
        assert row.id_card_no != wanted


# --- item 12: orphaned jobs, retention ----------------------------------------------

def _stale_import_job(app, source, actor="admin"):
    """A job row as a killed worker leaves it: running, its heartbeat an hour old."""
    from core.extensions import db
    from core.jobs import Job

    with app.app_context():
        uploads = os.path.join(app.instance_path, "jobs", "uploads")
        os.makedirs(uploads, exist_ok=True)
        target = os.path.join(uploads, "killed.xlsx")
        shutil.copy(source, target)
        old = datetime.now() - timedelta(hours=1)
        job = Job(kind="import_retirees", params=f'{{"path": "{target}"}}', created_by=actor,
                  status="running", started_at=old, heartbeat_at=old, progress=2)
        db.session.add(job)
        db.session.commit()
        return job.id, target


def _wait_done(client, job_id):
    for _ in range(600):
        status = client.get(f"/jobs/{job_id}/status").json
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end: {status}")


def test_killed_import_shown_interrupted_and_resumed_without_duplicates(
        app, client_for, import_file):
    """The killed run committed two of five people; the job is shown 已中断 with a 继续
    button; resuming imports the rest (five in all, nobody twice) and removes the
    upload."""
    from core.extensions import db
    from core.registry import exchange
    from core.registry.models import Retiree

    first, _ = import_file(2, name="first.xlsx")
    whole, _ = import_file(5, name="whole.xlsx")
    with app.app_context():
        exchange.import_retirees(db.session, str(first), "admin")
    assert _count(app, Retiree) == 2
    job_id, upload = _stale_import_job(app, whole)
    client = client_for("admin")
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "已中断" in page and "继续" in page
    assert client.get(f"/jobs/{job_id}/status").json["interrupted"] is True
    # Someone else's job is not theirs to resume.
    assert client_for("city").post(f"/jobs/{job_id}/resume").status_code == 404
    response = client.post(f"/jobs/{job_id}/resume")
    assert response.status_code == 302
    assert _wait_done(client, job_id)["status"] == "done"
    assert _count(app, Retiree) == 5
    assert not os.path.exists(upload)
    again = client.post(f"/jobs/{job_id}/resume", follow_redirects=True)
    assert "该任务未中断" in again.get_data(as_text=True)
    assert _count(app, Retiree) == 5


def test_interrupted_job_whose_upload_was_purged_cannot_resume(app, client_for, import_file):
    from core.jobs import Job

    whole, _ = import_file(3)
    job_id, upload = _stale_import_job(app, whole)
    os.unlink(upload)
    client = client_for("admin")
    answer = client.post(f"/jobs/{job_id}/resume", follow_redirects=True)
    assert "已按保留期限删除" in answer.get_data(as_text=True)
    from core.extensions import db

    with app.app_context():
        assert db.session.get(Job, job_id).status == "running"


def test_a_running_job_beats_and_is_not_shown_interrupted(app_factory):
    """The heartbeat moves while a job runs (on PostgreSQL from its own thread), so a
    long job is never taken for a dead one."""
    from core.extensions import db
    from core.jobs import HANDLERS, Job, run, stale

    app = app_factory(JOB_HEARTBEAT_SECONDS=0.05, JOB_STALE_SECONDS=1)
    seen = []

    def slow(job, params, progress):
        probe = create_engine(db.engine.url)
        try:
            for _ in range(200 if PG_URL else 3):
                with probe.connect() as con:
                    beat = con.execute(text("SELECT heartbeat_at FROM job WHERE id = :i"),
                                       {"i": job.id}).scalar()
                if isinstance(beat, str):
                    beat = datetime.fromisoformat(beat)
                seen.append(beat)
                if len(set(seen)) > 2:
                    break
                progress(len(seen))
                time.sleep(0.05)
        finally:
            probe.dispose()
        return {"beats": len(set(seen))}

    HANDLERS["fault_test_slow"] = slow
    try:
        with app.app_context():
            job = Job(kind="fault_test_slow", params="{}", created_by="admin")
            db.session.add(job)
            db.session.commit()
            done = run(job.id)
            assert done.status == "done", done.error
            assert not stale(done)
    finally:
        del HANDLERS["fault_test_slow"]
    if PG_URL:
        assert len({b for b in seen if b is not None}) > 2


def test_failed_web_import_removes_its_upload(app, client_for, tmp_path):
    """Issue 13 item 12: an import that fails leaves no file with IDs behind."""
    from core.extensions import db
    from core.jobs import Job, run

    uploads = os.path.join(app.instance_path, "jobs", "uploads")
    os.makedirs(uploads, exist_ok=True)
    upload = os.path.join(uploads, "broken.xlsx")
    with open(upload, "wb") as fh:
        fh.write(b"PK\x03\x04 not really a workbook 320502195001020011 13812345678")
    with app.app_context():
        job = Job(kind="import_retirees", params=f'{{"path": "{upload}"}}',
                  created_by="admin")
        db.session.add(job)
        db.session.commit()
        assert run(job.id).status == "failed"
    assert not os.path.exists(upload)


def _age(path, days):
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def _job_files(app):
    made = {}
    for folder in ("jobs/uploads", "jobs/reports", "jobs/exports", "retiree_import_reports"):
        base = os.path.join(app.instance_path, folder)
        os.makedirs(base, exist_ok=True)
        for name, days in (("old.xlsx", 8), ("new.xlsx", 6)):
            path = os.path.join(base, name)
            with open(path, "wb") as fh:
                fh.write(b"320502195001020011")
            _age(path, days)
            made[path] = days
    return made


def test_job_files_purged_after_retention_by_cli(app):
    """``retiree-admin jobs purge``: uploads, reports and exports older than
    JOB_FILE_RETENTION_DAYS (7) are gone, younger ones kept; ``--days`` overrides."""
    made = _job_files(app)
    result = app.test_cli_runner().invoke(args=["jobs", "purge"])
    assert result.exit_code == 0, result.output
    assert "已删除任务文件 4 个" in result.output
    assert {p: os.path.exists(p) for p in made} == {p: d < 7 for p, d in made.items()}
    result = app.test_cli_runner().invoke(args=["jobs", "purge", "--days", "5"])
    assert "已删除任务文件 4 个" in result.output
    assert not any(os.path.exists(p) for p in made)
    bad = app.test_cli_runner().invoke(args=["jobs", "purge", "--days", "-1"])
    assert bad.exit_code != 0


def test_job_files_purged_on_schedule_at_most_hourly(app, client_for, retiree_payload):
    """The scheduled purge (after a request, a job, a worker start) runs once an hour:
    old files and old idempotency answers go; a second call within the hour does
    nothing."""
    from core import job_purge
    from core.extensions import db
    from core.idempotency import TABLE

    api = app.test_client()
    headers = {**_token(api), "Idempotency-Key": "old-key"}
    assert api.post("/api/v1/retiree/", json=retiree_payload(1), headers=headers).status_code == 201
    with app.app_context(), db.engine.begin() as con:
        con.execute(TABLE.update().values(created_at=datetime.now() - timedelta(days=2)))
    made = _job_files(app)
    job_purge._looked["at"] = 0.0
    marker = os.path.join(app.instance_path, job_purge.MARKER)
    if os.path.exists(marker):
        os.unlink(marker)
    client_for("admin").get("/")
    assert {p: os.path.exists(p) for p in made} == {p: d < 7 for p, d in made.items()}
    with app.app_context(), db.engine.connect() as con:
        assert con.execute(select(func.count()).select_from(TABLE)).scalar() == 0
    again = _job_files(app)
    job_purge._looked["at"] = 0.0
    assert job_purge.maybe_purge(app) is False
    assert all(os.path.exists(p) for p in again)
