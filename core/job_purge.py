"""Job files are kept ``JOB_FILE_RETENTION_DAYS`` (issue 12 item 12, issue 13 item 12).

Uploaded import files and the error reports hold full ID numbers and phones; exports
the registry. They live in the instance folder (``jobs/uploads``, ``jobs/reports``,
``jobs/exports``, and the screens' ``retiree_import_reports``) and are deleted once older
than the retention, together with the stored ``Idempotency-Key`` answers older than
``IDEMPOTENCY_KEEP_HOURS``.

The schedule needs no scheduler process: the purge runs when a worker starts
(``retiree-admin worker``), at the end of every job, and after a web request — each at
most once an hour across all processes sharing the instance folder: the process that
finds the marker file ``jobs/.purged`` older than an hour renews it and purges. Two
processes purging at once do no harm (deleting a deleted file is a no-op). The command
``retiree-admin jobs purge [--days N]`` purges at once.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from core import idempotency

log = logging.getLogger(__name__)
FOLDERS = ("jobs/uploads", "jobs/reports", "jobs/exports", "retiree_import_reports")
EVERY_SECONDS = 3600
MARKER = "jobs/.purged"
# Per process: when the marker was last looked at (a stat per request is not needed).
_looked = {"at": 0.0}


def purge(app: Flask, days: int | None = None, now: float | None = None) -> dict:
    """Delete the job files older than ``days`` (default ``JOB_FILE_RETENTION_DAYS``)
    and the old idempotency answers; returns what was removed."""
    days = app.config.get("JOB_FILE_RETENTION_DAYS", 7) if days is None else days
    now = time.time() if now is None else now
    limit = now - days * 86400
    files = 0
    for name in FOLDERS:
        folder = Path(app.instance_path) / name
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
                    files += 1
            except OSError as exc:  # a file that vanished or cannot be removed: the rest go on
                log.warning("任务文件 %s 未能删除：%s", path.name, exc)
    with app.app_context():
        keys = idempotency.purge(datetime.fromtimestamp(now),
                                 app.config.get("IDEMPOTENCY_KEEP_HOURS", 24))
    log.info("已清理超过 %s 天的任务文件 %s 个、过期的幂等记录 %s 条", days, files, keys)
    return {"files": files, "idempotency_keys": keys}


def maybe_purge(app: Flask) -> bool:
    """Purge if no process did within the hour; never raises (a request or a job that
    already succeeded must not fail for it)."""
    now = time.time()
    if now - _looked["at"] < 60:
        return False
    _looked["at"] = now
    marker = Path(app.instance_path) / MARKER
    try:
        if marker.exists() and now - marker.stat().st_mtime < EVERY_SECONDS:
            return False
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        purge(app, now=now)
    except (OSError, SQLAlchemyError) as exc:
        log.warning("定期清理任务文件失败，一小时后再试：%s", exc)
        return False
    return True


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _scheduled_purge(_exc) -> None:
        maybe_purge(app)
