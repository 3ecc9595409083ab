"""A large import on PostgreSQL, split over worker processes (A31; issue 7).

One process checks and writes about 1,300–2,000 rows a second, and is the bottleneck:
PostgreSQL waits for it. So past ``IMPORT_PARALLEL_FROM_ROWS`` rows the importing
process only reads the workbook and deals the rows to ``IMPORT_WORKERS`` processes,
each of which checks and writes its chunks exactly as a single-process import does (same
rules, same scope, one transaction per chunk). A row goes to the worker its personal
number hashes to, so all rows naming one person go to one worker in file order: the second
still updates the person the first wrote. Outcomes come back per chunk; the counts and
the error report read as those of a single-process import, in row order.

Two workers may claim one identity number for two different people at once; the unique
index refuses the later chunk, which is then done row by row and the row refused, as when
another user registers the same person during an import.

A worker reads its chunks from a pipe whose only writer is the importing process. When
that process dies (a killed job), the worker's next read ends and it exits; what it had
committed is whole chunks, which a re-run finds unchanged. A worker that dies fails the
import with a message, after the other has finished the chunk in hand.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, wait

from flask import current_app
from sqlalchemy import event

from core import caching
from core.registry.validators import normalize_personal_no
from core.scoping import current_scope, scoped_to, unscoped

CHUNKS_IN_FLIGHT = 2  # per worker: one being written, one waiting (flat memory)
WORKER_DIED = "导入工作进程意外退出，已提交的部分完整保存；请重新导入同一文件（已导入的行显示为无变化）"

Outcome = str | list[str]


def worker_count(session) -> int:
    """How many processes an import may use: ``IMPORT_WORKERS`` on PostgreSQL; one on
    SQLite, whose writers would only queue behind each other's locks."""
    if session.get_bind().dialect.name != "postgresql":
        return 1
    return max(1, int(current_app.config.get("IMPORT_WORKERS", 1)))


def _worker_of(raw: dict, workers: int) -> int:
    key = raw.get("personal_no")
    try:
        key = normalize_personal_no(key)
    except ValueError:
        key = str(key)
    return zlib.crc32(key.encode()) % workers


def _plain_config(config) -> dict:
    """The settings a worker builds its app with: this app's, as far as they pickle
    (classes and functions by name, as the worker imports them itself)."""
    plain = {}
    for key, value in config.items():
        if not key.isupper():
            continue
        try:
            pickle.dumps(value)
        except Exception:  # noqa: BLE001 — a setting of an object that does not pickle
            continue
        plain[key] = value
    return plain


def _serve(app, scope: str | None, actor: str, inbox: Connection, outbox: Connection) -> None:
    """Check and write chunks until told to stop or until the importing process is gone.
    Ctrl-C is the importing process's to handle: it stops dealing, and each worker
    finishes the chunk in hand."""
    from core.extensions import db

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from core.registry.exchange import _collected_per_chunk, _import_chunk

    with app.app_context(), (unscoped() if scope is None else scoped_to(scope)):
        if db.engine.dialect.name == "sqlite":
            _write_transactions(db.engine)
        session = db.session
        plugins = app.extensions["retiree_admin.plugins"]
        with _collected_per_chunk() as collect:
            while True:
                try:
                    task = inbox.recv()
                except (EOFError, OSError):
                    return  # the importing process is gone, or stopped mid-message
                if task is None:
                    return
                key, rows = task
                try:
                    with plugins.settings_read_once(session):
                        outcomes = _import_chunk(session, rows, actor)
                    written = caching.pending_writes(session)
                    session.commit()
                except Exception:  # noqa: BLE001 — reported to the importing process
                    session.rollback()
                    outbox.send((key, None, (), traceback.format_exc()))
                    return
                outbox.send((key, outcomes, tuple(written), None))
                collect()


def _write_transactions(engine) -> None:
    """SQLite (several workers only when asked for): a chunk's transaction takes the
    write lock when it begins, waiting for the other worker's commit, instead of failing
    when its reads of a moment ago are overtaken (SQLAlchemy's pysqlite recipe)."""

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose(close=False)


def _spawned(inbox: Connection, outbox: Connection) -> None:
    """A worker in a fresh interpreter: build the app from the settings sent first."""
    from core.app import create_app

    try:
        config, scope, actor = inbox.recv()
    except EOFError:
        return
    _serve(create_app(config), scope, actor, inbox, outbox)


def _forked(app, scope: str | None, actor: str, inbox: Connection, outbox: Connection,
            inherited: list[Connection]) -> None:
    """A worker forked from the importing process: it shares that process's app (and its
    memory, copy-on-write) but none of its database connections. Never returns."""
    from core.extensions import db

    code = 1
    try:
        for conn in inherited:  # the other workers' pipes: EOF must reach them
            conn.close()
        db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        _parents_session = db.session.registry()  # kept, never closed here
        db.session.registry.clear()
        _serve(app, scope, actor, inbox, outbox)
        del _parents_session
        code = 0
    except BaseException:  # noqa: BLE001 — the worker must not return into the parent's code
        traceback.print_exc()
    finally:
        os._exit(code)


def _may_fork() -> bool:
    """Forking copies only the calling thread: safe where it is the only one (the CLI, an
    RQ work horse, the benchmark); the inline job thread of a web worker spawns instead."""
    return hasattr(os, "fork") and threading.active_count() == 1


class WorkerFailed(RuntimeError):
    """A worker died or failed; ``message`` is for the user."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(f"{message}\n{detail}".strip())
        self.message = message


class _Pool:
    """The worker processes, each talking over two pipes of its own: forked from this
    one when it has a single thread, else started as ``python -m
    core.registry.import_workers`` with this process's import path."""

    def __init__(self, workers: int, actor: str):
        self.inboxes: list[Connection] = []
        self.outboxes: list[Connection] = []
        self.pids: list[int] = []
        self.spawned: list[subprocess.Popen] = []
        scope, fork = current_scope(), _may_fork()
        if fork:
            app = current_app._get_current_object()
            sys.stdout.flush()
            sys.stderr.flush()
            gc.freeze()  # shared pages stay shared: the collector leaves them alone
        else:
            start = (_plain_config(current_app.config), scope, actor)
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        for _ in range(workers):
            inbox_r, inbox_w = os.pipe()
            outbox_r, outbox_w = os.pipe()
            if fork:
                pid = os.fork()
                if pid == 0:
                    os.close(inbox_w)
                    os.close(outbox_r)
                    _forked(app, scope, actor, Connection(inbox_r, writable=False),
                            Connection(outbox_w, readable=False),
                            self.inboxes + self.outboxes)
            else:
                self.spawned.append(subprocess.Popen(
                    [sys.executable, "-m", __name__, str(inbox_r), str(outbox_w)],
                    pass_fds=(inbox_r, outbox_w), env=env))
                pid = self.spawned[-1].pid
            os.close(inbox_r)  # the worker's ends: the worker alone holds them now
            os.close(outbox_w)
            self.pids.append(pid)
            self.inboxes.append(Connection(inbox_w, readable=False))
            self.outboxes.append(Connection(outbox_r, writable=False))
            if not fork:
                self.inboxes[-1].send(start)
        if fork:
            gc.unfreeze()
        self.in_flight = [0] * workers
        self.cut: set[int] = set()
        self.meta: dict[int, tuple[int, list]] = {}
        self.keys = itertools.count()

    def send(self, worker: int, chunk: list[tuple[int, dict, dict]],
             done: Callable[[list, list[Outcome]], None]) -> None:
        while self.in_flight[worker] >= CHUNKS_IN_FLIGHT:
            self.receive(done)
        key = next(self.keys)
        self.meta[key] = (worker, [(row_no, shown) for row_no, _, shown in chunk])
        try:
            self.inboxes[worker].send((key, [raw for _, raw, _ in chunk]))
        except BaseException:
            self.cut.add(worker)  # perhaps half a message: nothing more may follow it
            raise
        self.in_flight[worker] += 1

    def receive(self, done: Callable[[list, list[Outcome]], None]) -> None:
        busy = [self.outboxes[w] for w, n in enumerate(self.in_flight) if n]
        for conn in wait(busy):
            try:
                key, outcomes, written, failure = conn.recv()
            except EOFError:
                raise WorkerFailed(WORKER_DIED) from None
            if failure:
                raise WorkerFailed(WORKER_DIED, failure)
            worker, rows = self.meta.pop(key)
            self.in_flight[worker] -= 1
            if written:
                caching.touch(*written)
            done(rows, outcomes)

    def drain(self, done: Callable[[list, list[Outcome]], None]) -> None:
        while any(self.in_flight):
            self.receive(done)

    def close(self) -> None:
        """Stop the workers: each finishes the chunk in hand (or is already gone)."""
        for worker, conn in enumerate(self.inboxes):
            if worker not in self.cut:
                with contextlib.suppress(OSError):  # that worker may be gone
                    conn.send(None)
            conn.close()
        for pid in self.pids:
            _reap(pid, timeout=60)
        for process in self.spawned:
            process.returncode = 0  # reaped above
        for conn in self.outboxes:
            conn.close()


def _reap(pid: int, timeout: float) -> None:
    """Wait for a worker, killing it after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not os.waitpid(pid, os.WNOHANG if time.monotonic() < deadline else 0)[0]:
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def import_split(rows: Iterable[tuple[int, dict]], workers: int, actor: str, chunk_rows: int,
                 shown: Callable[[dict], dict],
                 done: Callable[[list, list[Outcome]], None]) -> None:
    """Deal ``rows`` to ``workers`` processes in chunks of ``chunk_rows``; ``done`` gets
    each chunk's [(row number, shown)] and outcomes as they come back."""
    pool = _Pool(workers, actor)
    try:
        pending: list[list] = [[] for _ in range(workers)]
        for row_no, raw in rows:
            worker = _worker_of(raw, workers)
            pending[worker].append((row_no, raw, shown(raw)))
            if len(pending[worker]) >= chunk_rows:
                pool.send(worker, pending[worker], done)
                pending[worker] = []
        for worker, chunk in enumerate(pending):
            if chunk:
                pool.send(worker, chunk, done)
        pool.drain(done)
    finally:
        pool.close()


if __name__ == "__main__":
    _spawned(Connection(int(sys.argv[1]), writable=False),
             Connection(int(sys.argv[2]), readable=False))
