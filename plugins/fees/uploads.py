"""Issue 14 item 19: an uploaded instalment application kept across a failed submit, so
the clerk who mistyped an amount does not have to choose the file again.

The file waits in the instance folder under a random token (the form carries only the
token), readable only by the user who uploaded it, removed once the plan is recorded
and, at the latest, a day later."""
from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

from flask import current_app

FOLDER = "fees_uploads"
KEEP_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def _folder() -> Path:
    folder = Path(current_app.instance_path) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep(data: bytes, name: str, mimetype: str | None, user: str) -> str:
    """Store the upload; the token to put in the form. Stale uploads are removed."""
    folder = _folder()
    stale = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < stale:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.bin").write_bytes(data)
    (folder / f"{token}.json").write_text(
        json.dumps({"user": user, "name": name, "type": mimetype}), encoding="utf-8")
    return token


def kept(token: str | None, user: str) -> tuple[bytes, str, str | None] | None:
    """The upload kept under ``token`` for ``user``: (bytes, name, type), or None."""
    if not token or not _TOKEN.match(token):
        return None
    folder = _folder()
    try:
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
        data = (folder / f"{token}.bin").read_bytes()
    except (OSError, ValueError):
        return None
    if meta.get("user") != user:
        return None
    return data, meta["name"], meta.get("type")


def drop(token: str | None) -> None:
    if token and _TOKEN.match(token):
        for suffix in (".bin", ".json"):
            (_folder() / f"{token}{suffix}").unlink(missing_ok=True)
