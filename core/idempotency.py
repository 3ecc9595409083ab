"""``Idempotency-Key`` on API POSTs (issue 12 item 9): a client that retries a request
whose answer it never got (a timeout, a dropped connection) sends the same key, and gets
the first answer back instead of a second payment, fund income or registration.

One mechanism for every API POST, core's and plugins' alike (no view opts in): a POST
under ``/api/`` carrying the header is claimed for (user, key) in the
``idempotency_key`` table before the view runs, on its own committed connection, so that
a concurrent request with the same key finds the claim (one wins, the other gets 409).
The claim is marked *committed* inside the view's own transaction (``before_commit``),
so a write and its mark are kept or lost together; the answer is stored after the view.

A key sent again with a different body or to another path is refused (422). A claim
whose request failed before committing anything (an error, a 5xx) is released, so the
retry runs afresh. Stored answers are kept ``IDEMPOTENCY_KEEP_HOURS`` (the jobs purge
removes older ones). The login and token endpoints take no key: an answer with tokens is
never stored. Without the header a POST works as before.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from flask import Flask, Response, g, has_request_context, request
from flask_appbuilder import Model
from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.extensions import db

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# Paths that hand out credentials: their answers must not be stored.
EXCLUDED_PREFIXES = ("/api/v1/security/",)


class IdempotencyKey(Model):
    """One claimed key: ``state`` is processing (claimed), committed (the write is in
    the database) or done (the answer below is stored)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), nullable=False)
    path: Mapped[str] = mapped_column(String(400), nullable=False)
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="processing")
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True,
                                                 default=datetime.now)


TABLE = IdempotencyKey.__table__


def _message(status: int, text: str) -> Response:
    return Response(json.dumps({"message": text}, ensure_ascii=False), status,
                    content_type="application/json; charset=utf-8")


def _applies() -> bool:
    return (request.method == "POST" and request.path.startswith("/api/")
            and not request.path.startswith(EXCLUDED_PREFIXES)
            and request.headers.get(HEADER) is not None)


def _replay(row) -> Response:
    response = Response(row.body or "", row.status_code,
                        content_type=row.content_type or "application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim():
    """Before the view: claim the key, or answer from an earlier request with it."""
    if not _applies():
        return None
    user = g.get("ra_user")
    if user is None:
        return None  # the view answers 401; nothing to claim for nobody
    key = request.headers[HEADER].strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        return _message(400, f"Idempotency-Key 须为1至{MAX_KEY_LENGTH}个可打印的ASCII字符")
    body_hash = hashlib.sha256(request.get_data()).hexdigest()
    values = {"user_id": user.id, "key": key, "path": request.path[:400],
              "body_hash": body_hash, "state": "processing", "created_at": datetime.now()}
    try:
        with db.engine.begin() as con:
            claim_id = con.execute(insert(TABLE).values(**values)).inserted_primary_key[0]
    except IntegrityError:
        with db.engine.connect() as con:
            row = con.execute(select(TABLE).where(TABLE.c.user_id == user.id,
                                                  TABLE.c.key == key)).first()
        if row is None:  # released between our insert and this read: the client retries
            return _message(409, "相同 Idempotency-Key 的请求刚刚结束，请重试")
        if row.path != values["path"] or row.body_hash != body_hash:
            return _message(422, "该 Idempotency-Key 已用于另一个不同的请求，"
                                 "请为新的请求使用新的 Idempotency-Key")
        if row.state == "done":
            return _replay(row)
        if row.state == "committed":
            return _message(409, "相同 Idempotency-Key 的请求已执行完成，但其结果未能保存，"
                                 "请查询记录确认，勿重复提交")
        return _message(409, "相同 Idempotency-Key 的请求正在处理中，请稍后重试")
    g.ra_idempotency = claim_id
    return None


def _store(response: Response) -> Response:
    """After the view: keep its answer; a 5xx that committed nothing releases the key."""
    claim_id = g.pop("ra_idempotency", None)
    if claim_id is None:
        return response
    with db.engine.begin() as con:
        state = con.execute(select(TABLE.c.state).where(TABLE.c.id == claim_id)).scalar()
        if response.status_code >= 500 and state == "processing":
            con.execute(delete(TABLE).where(TABLE.c.id == claim_id))
        else:
            con.execute(update(TABLE).where(TABLE.c.id == claim_id).values(
                state="done", status_code=response.status_code,
                content_type=response.content_type, body=response.get_data(as_text=True)))
    return response


def _release(_exc) -> None:
    """A request that ended in an unhandled error: release a claim that committed
    nothing (after_request did not run)."""
    claim_id = g.pop("ra_idempotency", None)
    if claim_id is not None:
        with db.engine.begin() as con:
            con.execute(delete(TABLE).where(TABLE.c.id == claim_id,
                                            TABLE.c.state == "processing"))


@event.listens_for(Session, "before_commit")
def _mark_committed(session) -> None:
    """The view's write and the claim's mark commit together."""
    if has_request_context() and g.get("ra_idempotency") is not None:
        session.connection().execute(update(TABLE).where(
            TABLE.c.id == g.ra_idempotency, TABLE.c.state == "processing"
        ).values(state="committed"))


def purge(now: datetime | None = None, hours: int = 24) -> int:
    """Remove the keys older than ``hours``; their answers are no longer replayed."""
    limit = (now or datetime.now()) - timedelta(hours=hours)
    with db.engine.begin() as con:
        # Looked up first: on SQLite a DELETE takes the write lock even when it matches
        # nothing, and the purge runs after web requests.
        if con.execute(select(TABLE.c.id).where(TABLE.c.created_at < limit).limit(1)).first():
            return con.execute(delete(TABLE).where(TABLE.c.created_at < limit)).rowcount
    return 0


def init_app(app: Flask) -> None:
    """Registered after the request scope is resolved (the claim needs the user)."""
    app.before_request(_claim)
    app.after_request(_store)
    app.teardown_request(_release)
