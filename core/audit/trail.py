"""Recording, chaining, verifying and purging audit entries.

Each entry carries the HMAC-SHA256 of its content and of the previous entry's hash,
keyed with AUDIT_KEY (derived from SECRET_KEY when unset), and a gap-free sequence
number; the head row holds the last number and hash. So an altered entry, a removed
one (anywhere, the last included) or a re-ordered one is found by ``verify``, and
someone who can write to the database but does not know the key cannot forge a chain.

Appending locks the head row (``UPDATE`` first), so concurrent writers take turns and
the chain stays linear on SQLite and PostgreSQL alike.

Truncation (issue #12, item 13): the database lets the head only move forward and the
base only past entries older than 180 days, and deletes only entries before the base
(migration 0010); on PostgreSQL the application runs as a role that cannot drop those
triggers (``retiree-admin audit grant-app-role``). Against someone who can (the owner
role), ``audit verify`` and ``purge`` write signed checkpoints of the head to the
append-only ``audit_checkpoint`` table and to AUDIT_CHECKPOINT_FILE, outside the
database; ``verify`` refuses a head behind a checkpoint (the end cut off, the head
rewound, everything deleted) and a base that no checkpoint vouches for (the start cut
off outside a purge).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request
from sqlalchemy import delete, func, insert, select, update

from core.audit.models import GENESIS, AuditCheckpoint, AuditEntry, AuditHead
from core.extensions import db

ENTRY = AuditEntry.__table__
HEAD = AuditHead.__table__
CHECKPOINT = AuditCheckpoint.__table__
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
    # A no-op update takes the lock; the head then moves in one step (its trigger
    # refuses a hash changed without the sequence number).
    locked = connection.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq))
    if locked.rowcount == 0:
        connection.execute(insert(HEAD).values(id=1, seq=0, last_hash=GENESIS, base_seq=1,
                                               base_hash=GENESIS))
    seq, last = connection.execute(
        select(HEAD.c.seq, HEAD.c.last_hash).where(HEAD.c.id == 1)).one()
    key = _key()
    for i, row in enumerate(rows, start=seq + 1):
        row["seq"] = i
        row["prev_hash"] = last
        row["hash"] = last = digest(row, key)
    connection.execute(insert(ENTRY), rows)
    connection.execute(update(HEAD).where(HEAD.c.id == 1)
                       .values(seq=seq + len(rows), last_hash=last))


def verify(session) -> list[str]:
    """Every problem of the chain, in Chinese; empty when intact."""
    problems: list[str] = []
    key = _key()
    head = session.execute(select(HEAD).where(HEAD.c.id == 1)).first()
    checkpoints = _checked_checkpoints(session, key, problems)
    if head is None:
        count = session.scalar(select(func.count()).select_from(ENTRY))
        if checkpoints:
            problems.append(f"审计链头被删除，但检查点记录到第 {max(c['seq'] for c in checkpoints)} 条")
        return problems + ([f"审计链头缺失，但有 {count} 条记录"] if count else [])
    problems += _against_checkpoints(session, head, checkpoints)
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
    # The base moves first: the database deletes only entries before it (migration 0010).
    connection.execute(update(HEAD).where(HEAD.c.id == 1, HEAD.c.base_seq < first_young)
                       .values(base_seq=first_young, base_hash=base_hash))
    removed = connection.execute(delete(ENTRY).where(ENTRY.c.seq < first_young)).rowcount
    append(connection, [entry("audit.purge", object_type="audit_entry",
                              detail={"removed": removed, "days": days,
                                      "kept_from_seq": first_young})])
    anchor(session)
    return removed


def _sign(cp: Mapping, key: bytes) -> str:
    message = f"checkpoint|{cp['seq']}|{cp['last_hash']}|{cp['base_seq']}|{cp['base_hash']}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def anchor(session) -> dict:
    """Write a signed checkpoint of the head to ``audit_checkpoint`` and, when set, to
    AUDIT_CHECKPOINT_FILE (one JSON line each; the file is outside the database, so
    even its owner role cannot roll it back). Commits."""
    head = session.execute(select(HEAD).where(HEAD.c.id == 1)).one()
    cp = {"at": datetime.now().replace(microsecond=0), "seq": head.seq,
          "last_hash": head.last_hash, "base_seq": head.base_seq, "base_hash": head.base_hash}
    cp["signature"] = _sign(cp, _key())
    session.execute(insert(CHECKPOINT).values(**cp))
    session.commit()
    path = current_app.config.get("AUDIT_CHECKPOINT_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(cp, default=str) + "\n")
    return cp


def _checked_checkpoints(session, key: bytes, problems: list[str]) -> list[dict]:
    """The checkpoints of the table and of the file whose signature holds; the others
    are reported."""
    found = [dict(row._mapping) for row in session.execute(select(CHECKPOINT))]
    path = current_app.config.get("AUDIT_CHECKPOINT_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as lines:
                found += [json.loads(line) for line in lines if line.strip()]
        except FileNotFoundError:
            pass
        except ValueError:
            problems.append(f"检查点文件 {path} 无法读取（被改动）")
    good = []
    for cp in found:
        if hmac.compare_digest(_sign(cp, key), str(cp.get("signature", ""))):
            good.append(cp)
        else:
            problems.append(f"检查点（第 {cp.get('seq')} 条）签名不符，被伪造或改动")
    return good


def _against_checkpoints(session, head, checkpoints: list[dict]) -> list[str]:
    """A head behind a checkpoint, a checkpoint's last entry replaced, a base that no
    checkpoint vouches for."""
    if not checkpoints:
        return []
    problems = []
    latest = max(checkpoints, key=lambda c: c["seq"])
    if head.seq < latest["seq"]:
        problems.append(f"审计链头被回退：检查点记录到第 {latest['seq']} 条，"
                        f"链头只到第 {head.seq} 条（末尾记录被删除）")
    elif latest["seq"] >= head.base_seq:
        kept = session.scalar(select(ENTRY.c.hash).where(ENTRY.c.seq == latest["seq"]))
        if kept is not None and kept != latest["last_hash"]:
            problems.append(f"第 {latest['seq']} 条与检查点不符（记录被截断后重写）")
    vouched = {(1, GENESIS)} | {(c["base_seq"], c["base_hash"]) for c in checkpoints}
    if (head.base_seq, head.base_hash) not in vouched:
        problems.append(f"审计链起点被移动到第 {head.base_seq} 条，但没有经签名的清理记录"
                        f"（第 {head.base_seq - 1} 条及以前的记录被删除）")
    elif head.base_seq < max(c["base_seq"] for c in checkpoints):
        problems.append("审计链起点被回退到已清理的位置")
    return problems
