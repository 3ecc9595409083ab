"""Recording, chaining, verifying and purging audit entries.

Each entry carries the HMAC-SHA256 of its content and of the previous entry's hash,
keyed with AUDIT_KEY (derived from SECRET_KEY when unset), and a gap-free sequence
number; the head row holds the last number and hash. So an altered entry, a removed
one (anywhere, the last included) or a re-ordered one is found by ``verify``, and
someone who can write to the database but does not know the key cannot forge a chain.

Appending locks the head row (``UPDATE`` first), so concurrent writers take turns and
the chain stays linear on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request
from sqlalchemy import delete, func, insert, select, text, update

from core.audit.models import GENESIS, AuditEntry, AuditHead
from core.extensions import db

ENTRY = AuditEntry.__table__
HEAD = AuditHead.__table__
MIN_RETENTION_DAYS = 180
_QUEUE = "ra_audit_queue"


def _key() -> bytes:
    key = current_app.config.get("AUDIT_KEY")
    if key:
        return key.encode() if isinstance(key, str) else key
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"retiree-admin audit chain", hashlib.sha256).digest()


def _payload(row) -> bytes:
    get = row.__getitem__ if isinstance(row, Mapping) else (lambda k: getattr(row, k))
    at = get("at")
    return json.dumps(
        [get("seq"), at.isoformat(sep=" ", timespec="seconds"), get("actor"), get("ip"),
         get("action"), get("object_type"), get("object_id"), get("outcome"), get("detail"),
         get("prev_hash")],
        ensure_ascii=False, separators=(",", ":")).encode()


def digest(row, key: bytes | None = None) -> str:
    return hmac.new(key or _key(), _payload(row), hashlib.sha256).hexdigest()


def current_actor() -> str:
    if has_request_context():
        user = g.get("ra_user") or g.get("user")
        name = getattr(user, "username", None)
        return name or "anonymous"
    return "cli"


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def entry(action: str, outcome: str = "success", object_type: str | None = None,
          object_id=None, detail=None, actor: str | None = None) -> dict:
    if detail is not None and not isinstance(detail, str):
        detail = json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)
    return {"at": datetime.now().replace(microsecond=0), "actor": actor or current_actor(),
            "ip": client_ip(), "action": action, "object_type": object_type,
            "object_id": None if object_id is None else str(object_id), "outcome": outcome,
            "detail": detail}


def record(action: str, outcome: str = "success", object_type: str | None = None,
           object_id=None, detail=None, actor: str | None = None) -> None:
    """One event. In a web request it is written when the response is ready, in its own
    transaction (so a refused or failed request is recorded too); elsewhere (CLI, jobs)
    at once, committing the current session."""
    row = entry(action, outcome, object_type, object_id, detail, actor)
    if has_request_context():
        g.setdefault(_QUEUE, []).append(row)
        return
    append(db.session.connection(), [row])
    db.session.commit()


def flush_request_queue() -> None:
    """Write the events of this request. Whatever the view left uncommitted would be
    rolled back at teardown anyway: roll it back now and write on a clean transaction."""
    rows = g.pop(_QUEUE, None)
    if not rows:
        return
    db.session.rollback()
    append(db.session.connection(), rows)
    db.session.commit()


def append(connection, rows: list[dict]) -> None:
    """Chain ``rows`` after the head and insert them, on ``connection``'s transaction."""
    if not rows:
        return
    n = len(rows)
    locked = connection.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq + n))
    if locked.rowcount == 0:
        connection.execute(insert(HEAD).values(id=1, seq=n, last_hash=GENESIS, base_seq=1,
                                               base_hash=GENESIS))
    seq, last = connection.execute(
        select(HEAD.c.seq, HEAD.c.last_hash).where(HEAD.c.id == 1)).one()
    key = _key()
    start = seq - n + 1
    for i, row in enumerate(rows):
        row["seq"] = start + i
        row["prev_hash"] = last
        row["hash"] = last = digest(row, key)
    connection.execute(insert(ENTRY), rows)
    connection.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=last))


def verify(session) -> list[str]:
    """Every problem of the chain, in Chinese; empty when intact."""
    problems: list[str] = []
    head = session.execute(select(HEAD)).first()
    if head is None:
        count = session.scalar(select(func.count()).select_from(ENTRY))
        return [f"审计链头缺失，但有 {count} 条记录"] if count else []
    key = _key()
    expected_seq, expected_prev = head.base_seq, head.base_hash
    rows = session.execute(select(ENTRY).order_by(ENTRY.c.seq).execution_options(yield_per=2000))
    for row in rows:
        if row.seq < expected_seq:
            problems.append(f"第 {row.seq} 条序号重复或早于保留起点")
            continue
        if row.seq > expected_seq:
            problems.append(f"缺少第 {expected_seq}–{row.seq - 1} 条记录")
        elif row.prev_hash != expected_prev:
            problems.append(f"第 {row.seq} 条与前一条不衔接（前一条被改动或替换）")
        if not hmac.compare_digest(digest(row._mapping, key), row.hash):
            problems.append(f"第 {row.seq} 条内容被改动（{row.action}，{row.at}）")
        expected_seq, expected_prev = row.seq + 1, row.hash
    if expected_seq - 1 != head.seq:
        problems.append(f"缺少第 {expected_seq}–{head.seq} 条记录（末尾被删除）"
                        if expected_seq - 1 < head.seq else "记录多于链头所记")
    elif expected_prev != head.last_hash:
        problems.append("最后一条与链头不符")
    return problems


def purge(session, days: int | None = None) -> int:
    """Remove entries older than ``days`` (at least 180, default AUDIT_RETENTION_DAYS);
    an entry younger than that is never removed. Returns the number removed."""
    days = days if days is not None else current_app.config["AUDIT_RETENTION_DAYS"]
    if days < MIN_RETENTION_DAYS:
        raise ValueError(f"审计记录至少保留 {MIN_RETENTION_DAYS} 天")
    cutoff = datetime.now() - timedelta(days=days)
    first_young = session.scalar(select(func.min(ENTRY.c.seq)).where(ENTRY.c.at >= cutoff))
    if first_young is None:
        first_young = (session.scalar(select(func.max(ENTRY.c.seq))) or 0) + 1
        base_hash = session.scalar(select(HEAD.c.last_hash)) or GENESIS
    else:
        base_hash = session.scalar(select(ENTRY.c.prev_hash).where(ENTRY.c.seq == first_young))
    connection = session.connection()
    with _purge_allowed(connection):
        removed = connection.execute(delete(ENTRY).where(ENTRY.c.seq < first_young)).rowcount
    connection.execute(update(HEAD).where(HEAD.c.id == 1)
                       .values(base_seq=first_young, base_hash=base_hash))
    append(connection, [entry("audit.purge", object_type="audit_entry",
                              detail={"removed": removed, "days": days,
                                      "kept_from_seq": first_young})])
    session.commit()
    return removed


class _purge_allowed:
    """The database refuses deletes of audit entries (migration 0002's triggers); the
    purge lifts that inside its own transaction only (DDL is transactional on SQLite
    and PostgreSQL, so a failed purge leaves the trigger in place)."""

    def __init__(self, connection):
        self.connection = connection
        if connection.dialect.name == "postgresql":
            self.drop = "DROP TRIGGER IF EXISTS audit_entry_no_delete ON audit_entry"
            self.create = ("CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
                           "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()")
        else:
            self.drop = "DROP TRIGGER IF EXISTS audit_entry_no_delete"
            self.create = ("CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
                           "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END")

    def __enter__(self):
        self.connection.execute(text(self.drop))

    def __exit__(self, *exc):
        if exc[0] is None:
            self.connection.execute(text(self.create))
