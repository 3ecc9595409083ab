"""Background jobs: progress on screen, a real Redis queue with separate worker
processes, and a worker killed half-way leaves a consistent database and a job that
re-runs without duplicates."""
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select

from core.testing import missing, patience, run, wait_until

REDIS_URL = os.environ.get("RETIREE_ADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_fail():
    from redis import Redis

    try:
        Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # CI must have Redis; elsewhere it may be absent
        missing(f"Redis not reachable at {REDIS_URL}: {exc}")


def _count(app):
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():
        db.session.remove()
        return db.session.scalar(select(func.count()).select_from(Retiree))


def _job(app, job_id):
    from core.extensions import db
    from core.jobs import Job

    with app.app_context():
        db.session.remove()
        return db.session.get(Job, job_id)


def _wait(client, job_id, seconds=120):
    def finished():
        status = client.get(f"/jobs/{job_id}/status").json
        return status if status["status"] in ("done", "failed") else None

    return wait_until(finished, seconds, f"job {job_id} to finish", interval=0.3)


def test_A31_import_upload_runs_as_job_with_progress(app, client_for, import_file):
    path, bad = import_file(60, bad_every=20)
    client = client_for("admin")
    with open(path, "rb") as fh:
        response = client.post("/retiree-exchange/import", data={"file": (fh, "people.xlsx")},
                               content_type="multipart/form-data")
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "后台任务" in page and "job.js" in page
    status = _wait(client, job_id)
    assert status["status"] == "done", status
    assert status["result"]["新增"] == 60 - len(bad)
    assert status["result"]["失败"] == len(bad)
    report = client.get(f"/jobs/{job_id}/download")
    assert report.status_code == 200 and report.data[:2] == b"PK"
    assert re.fullmatch(  # issue 14 item 7: an ASCII name and the Chinese one
        r"attachment; filename=\"import-errors-\d{4}-\d\d-\d\d\.xlsx\"; filename\*=UTF-8''"
        + re.escape(quote("导入错误报告-")) + r"\d{4}-\d\d-\d\d\.xlsx",
        report.headers["Content-Disposition"]), report.headers["Content-Disposition"]
    assert client_for("c_cl11").get(f"/jobs/{job_id}/status").status_code == 404


def _worker_env(app, queue):
    return dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                RETIREE_ADMIN_INSTANCE_PATH=app.instance_path,
                RETIREE_ADMIN_JOB_BACKEND="rq", RETIREE_ADMIN_REDIS_URL=REDIS_URL,
                RETIREE_ADMIN_JOB_QUEUE=queue)


def _submit(app, path, queue):
    from core.jobs import submit

    app.config.update(JOB_BACKEND="rq", REDIS_URL=REDIS_URL, JOB_QUEUE=queue)
    with app.app_context():
        return submit("import_retirees", {"path": str(path)}, "admin", None).id


def _cli():
    return [sys.executable, "-c", "from core.cli import main; main()"]


def test_jobs_on_redis_queue_run_in_separate_worker(app, import_file):
    _redis_or_fail()
    queue = f"test-{uuid.uuid4().hex}"
    path, _ = import_file(40)
    job_id = _submit(app, path, queue)
    assert _job(app, job_id).status == "queued"
    done = run([*_cli(), "worker", "--burst"], env=_worker_env(app, queue),
               capture_output=True, text=True, seconds=300,
               waiting_for="the RQ worker to run the queued import")
    assert done.returncode == 0, done.stderr[-2000:]
    job = _job(app, job_id)
    assert job.status == "done", job.error
    assert job.result_data["新增"] == 40
    assert _count(app) == 40


def _kill_with_children(pid: int) -> None:
    """A dying machine takes the RQ worker and the work horse it forked (which has a
    process group of its own): kill both."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        os.kill(int(child), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)


def test_killed_worker_leaves_consistent_data_and_rerun_adds_nobody_twice(app, import_file):
    _redis_or_fail()
    queue = f"test-{uuid.uuid4().hex}"
    n = 1500
    path, _ = import_file(n)
    job_id = _submit(app, path, queue)
    worker = subprocess.Popen([*_cli(), "worker", "--burst"], env=_worker_env(app, queue),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def partly_imported():
        assert worker.poll() is None, "worker finished before it could be killed"
        return _count(app) >= 200

    wait_until(partly_imported, 240, "the worker to store 200 of the people")
    _kill_with_children(worker.pid)
    worker.wait(timeout=patience(30))
    partial = _count(app)
    assert 0 < partial < n, partial
    job = _job(app, job_id)
    assert job.status == "running"  # the killed run never finished
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():  # consistent: every stored person is whole, no duplicates
        dupes = db.session.execute(select(Retiree.personal_no).group_by(Retiree.personal_no)
                                   .having(func.count() > 1)).all()
        assert dupes == []
        assert db.session.scalar(select(func.count()).select_from(Retiree)
                                 .where(Retiree.region_path == "")) == 0
    refused = run([*_cli(), "jobs", "run", str(job_id)], env=_worker_env(app, queue),
                  capture_output=True, text=True, seconds=120,
                  waiting_for="`jobs run` to refuse a running job")
    assert refused.returncode != 0 and "--force" in refused.stderr
    rerun = run([*_cli(), "jobs", "run", str(job_id), "--force"],
                env=_worker_env(app, queue), capture_output=True, text=True, seconds=300,
                waiting_for="`jobs run --force` to finish the killed import")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]
    job = _job(app, job_id)
    assert job.status == "done"
    assert _count(app) == n
    assert job.result_data["新增"] == n - partial
    assert job.result_data["无变化"] == partial
