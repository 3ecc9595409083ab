"""Background jobs (imports, exports, later monthly runs) with progress (issue 7).

Embedded by default: ``JOB_BACKEND = "inline"`` runs a job in a thread of the web
process, nothing else to install. ``JOB_BACKEND = "rq"`` puts it on a Redis queue
(``REDIS_URL``) for separate worker processes (``retiree-admin worker``). A job runs with
the region scope of the user who submitted it, records its progress in the ``job`` table
(shown on screen and in the CLI), and is safe to run again: imports match people on the
personal number and skip the rows a killed run already committed, so a re-run adds nobody
twice.

A running job beats: its row's ``heartbeat_at`` moves every ``JOB_HEARTBEAT_SECONDS``
(on PostgreSQL from a thread on its own connection; on SQLite with each progress report,
committed with the job's chunks). A job still "running" whose beat is older than
``JOB_STALE_SECONDS`` lost its worker (killed, restarted): it is shown as interrupted
(已中断) and can be resumed (issue 12 item 12).
"""
from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from flask_appbuilder import Model
from sqlalchemy import DateTime, Integer, String, Text, create_engine, func, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from core import job_purge
from core.extensions import db
from core.scoping import scoped_to, unscoped

log = logging.getLogger(__name__)
HANDLERS: dict[str, Callable] = {}
STATE_LABELS = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "失败"}
INTERRUPTED_LABEL = "已中断"


class Job(Model):
    """One background job; ``scope_path`` is the submitting user's region path."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued", index=True)
    params: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    scope_path: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def interrupted(self) -> bool:
        return stale(self)

    @property
    def state_label(self) -> str:
        return INTERRUPTED_LABEL if self.interrupted else STATE_LABELS.get(self.status, self.status)

    @property
    def result_data(self) -> dict:
        return json.loads(self.result) if self.result else {}

    @property
    def param_data(self) -> dict:
        return json.loads(self.params or "{}")

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status,
                "state": self.state_label, "interrupted": self.interrupted,
                "progress": self.progress, "total": self.total,
                "result": self.result_data, "error": self.error}


def handler(kind: str):
    """Register the function that runs jobs of ``kind``: ``fn(job, params, progress)``."""
    def register(fn):
        HANDLERS[kind] = fn
        return fn
    return register


def submit(kind: str, params: dict, actor: str, scope_path: str | None,
           total: int | None = None) -> Job:
    """Record a job and start it on the configured backend."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind}")
    job = Job(kind=kind, params=json.dumps(params, ensure_ascii=False), created_by=actor,
              scope_path=scope_path, total=total)
    db.session.add(job)
    db.session.commit()
    dispatch(job)
    return job


def dispatch(job: Job) -> None:
    """Start ``job`` on the configured backend."""
    backend = current_app.config.get("JOB_BACKEND", "inline")
    if backend == "rq":
        queue(current_app).enqueue("core.jobs.run_in_worker", job.id,
                                   job_timeout=current_app.config.get("JOB_TIMEOUT", 3600))
    else:
        app = current_app._get_current_object()
        threading.Thread(target=_run_with_app, args=(app, job.id), daemon=True).start()


def resume(job_id: int) -> bool:
    """Run an interrupted job again. Only one of several concurrent callers wins: the
    job is taken back by a conditional UPDATE on its stale heartbeat."""
    cutoff = datetime.now() - timedelta(seconds=stale_seconds())
    table = Job.__table__
    taken = db.session.execute(
        update(table)
        .where(table.c.id == job_id, table.c.status == "running",
               func.coalesce(table.c.heartbeat_at, table.c.started_at) < cutoff)
        .values(status="queued", heartbeat_at=datetime.now())
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    if taken:
        with unscoped():
            dispatch(db.session.get(Job, job_id))
    return taken


def queue(app):
    from redis import Redis
    from rq import Queue

    return Queue(app.config.get("JOB_QUEUE", "retiree-admin"),
                 connection=Redis.from_url(app.config.get("REDIS_URL", "redis://127.0.0.1:6379/0")))


def _run_with_app(app, job_id: int) -> None:
    with app.app_context():
        run(job_id)


def run_in_worker(job_id: int) -> None:
    """Entry point on an RQ worker (see ``retiree-admin worker``)."""
    from core.app import create_app

    _run_with_app(_worker_app(create_app), job_id)


_worker_apps: dict = {}


def _worker_app(factory):
    if "app" not in _worker_apps:
        _worker_apps["app"] = factory()
    return _worker_apps["app"]


class _Progress:
    """Records progress. On PostgreSQL on its own connection, so the screen sees it at
    once; on SQLite inside the job's own transaction (it becomes visible at the job's next
    commit): a second writer would break the job's WAL snapshot ("database is locked")."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.shared = db.engine.dialect.name == "sqlite"
        self.engine = None if self.shared else create_engine(db.engine.url)
        self._last = datetime.min

    def __call__(self, done: int, total: int | None = None) -> None:
        now = datetime.now()
        if (now - self._last).total_seconds() < 0.5 and total is None:
            return
        self._last = now
        values = {"progress": done, "heartbeat_at": now}
        if total is not None:
            values["total"] = total
        statement = update(Job.__table__).where(Job.__table__.c.id == self.job_id).values(**values)
        if self.shared:
            db.session.execute(statement)
        else:
            with self.engine.begin() as con:
                con.execute(statement)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class _Heartbeat(threading.Thread):
    """Moves the job's ``heartbeat_at`` while the job runs, on the progress's own
    connection (PostgreSQL only: see ``_Progress``)."""

    def __init__(self, engine, job_id: int, every: float):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.engine, self.job_id, self.every = engine, job_id, every
        self.stopped = threading.Event()

    def run(self) -> None:
        table = Job.__table__
        while not self.stopped.wait(self.every):
            try:
                with self.engine.begin() as con:
                    con.execute(update(table).where(table.c.id == self.job_id)
                                .values(heartbeat_at=datetime.now()))
            except SQLAlchemyError as exc:  # the next beat tries again
                log.warning("任务 %s 的心跳未能写入：%s", self.job_id, exc)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def run(job_id: int) -> Job:
    """Run (or re-run) one job to the end; the outcome is recorded on the job row."""
    with unscoped():
        job = db.session.get(Job, job_id)
    if job is None:
        raise ValueError(f"job {job_id} not found")
    job.status, job.started_at, job.error = "running", datetime.now(), None
    job.heartbeat_at = job.started_at
    db.session.commit()
    progress = _Progress(job.id)
    beat = None
    if progress.engine is not None:
        beat = _Heartbeat(progress.engine, job.id,
                          current_app.config.get("JOB_HEARTBEAT_SECONDS", 15))
        beat.start()
    try:
        with scoped_to(job.scope_path) if job.scope_path else unscoped():
            result = HANDLERS[job.kind](job, job.param_data, progress)
        db.session.rollback()
        with unscoped():
            job = db.session.get(Job, job_id)
        job.status, job.result = "done", json.dumps(result or {}, ensure_ascii=False)
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s failed", job_id)
        with unscoped():
            job = db.session.get(Job, job_id)
        job.status = "failed"
        job.error = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        log.debug(traceback.format_exc())
    finally:
        if beat is not None:
            beat.stop()
        progress.close()
    job.finished_at = datetime.now()
    db.session.commit()
    job_purge.maybe_purge(current_app._get_current_object())
    return job


def stale_seconds() -> int:
    return current_app.config.get("JOB_STALE_SECONDS", 120)


def stale(job: Job, seconds: int | None = None) -> bool:
    """A running job whose worker stopped beating (killed): it may be run again."""
    beat = job.heartbeat_at or job.started_at
    return job.status == "running" and beat is not None and \
        datetime.now() - beat > timedelta(seconds=seconds or stale_seconds())
