"""Aggregates worth keeping between requests (Flask-Caching).

The cache is in-process by default (``CACHE_TYPE = "SimpleCache"``); several workers
share one in Redis (``CACHE_TYPE = "RedisCache"``, ``CACHE_REDIS_URL``). What is kept
here are counts over a region's subtree, never rows of people: the home page's cards cost
a scan of the city (about 250 ms at a million retirees) on every staff member's landing.

A kept value is filed under the *generation* of the tables it was computed from. Every
commit that wrote to one of those tables — an ORM flush or a bulk UPDATE, INSERT or
DELETE through any session of this process — gives the table a new generation, so the
next reader computes afresh. Writers in other processes reach a shared (Redis) cache the
same way; with the in-process default they are seen within ``CACHE_DEFAULT_TIMEOUT``.

A cache that cannot be reached (Redis down) never fails a request (issue 12 item 9): a
write's transaction has committed by the time its generations are bumped, and a 500 then
would make the client retry a write that was done. Readers compute afresh, writers skip
the bump, and the log says the cache is down; a value kept before the outage lives at
most ``CACHE_DEFAULT_TIMEOUT`` after it.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from itertools import chain

from flask import current_app, has_app_context
from flask_caching import Cache
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.scoping import current_scope

log = logging.getLogger(__name__)
cache = Cache()

_WRITTEN = "ra_written_tables"
_MISSING = object()
# When the cache store last failed (0: it answers); a failure is logged once a minute.
_outage = {"since": 0.0, "logged": 0.0}


def init_app(app) -> None:
    """The cache of config.py's CACHE_* settings, its keys apart from other apps' in a
    shared Redis."""
    app.config.setdefault("CACHE_KEY_PREFIX", "retiree_admin:")
    if "redis" in str(app.config.get("CACHE_TYPE", "")).lower():
        # A Redis host that stops answering costs each request a second, not a hang.
        app.config.setdefault("CACHE_OPTIONS", {"socket_connect_timeout": 1,
                                                "socket_timeout": 1})
    cache.init_app(app)


def _down(exc: Exception) -> None:
    now = time.monotonic()
    if not _outage["since"]:
        _outage["since"] = now
    if now - _outage["logged"] >= 60:
        _outage["logged"] = now
        log.warning("缓存服务不可用，已降级为不使用缓存（请求照常处理）：%s", exc)


def _up() -> None:
    if _outage["since"]:
        _outage["since"] = _outage["logged"] = 0.0
        log.warning("缓存服务已恢复")


def _get(key: str):
    """The kept value, None when absent, ``_MISSING`` when the store is down."""
    try:
        value = cache.get(key)
    except (RedisError, OSError) as exc:
        _down(exc)
        return _MISSING
    _up()
    return value


def _set(key: str, value, timeout: int | None = None) -> bool:
    try:
        cache.set(key, value, timeout=timeout)
    except (RedisError, OSError) as exc:
        _down(exc)
        return False
    _up()
    return True


def generation(table: str) -> str | None:
    """The table's current generation: a token that changes with every committed write;
    None when the cache store is down."""
    key = f"gen:{table}"
    token = _get(key)
    if token is _MISSING:
        return None
    if token is None:
        token = uuid.uuid4().hex
        _set(key, token, timeout=0)
    return token


def kept(name: str, tables: tuple[str, ...], compute: Callable[[], object]):
    """``compute()``, kept until one of ``tables`` is written (or the timeout passes).
    The key includes the reader's region scope, as every query does: a figure computed
    for one region is never served to another (or to code running unscoped)."""
    generations = [generation(t) for t in tables]
    if None in generations:
        return compute()
    key = ":".join([name, current_scope() or "*", *generations])
    value = _get(key)
    if value is None or value is _MISSING:
        value = compute()
        _set(key, value)
    return value


def _tables_of(objects) -> set[str]:
    return {table.name for obj in objects
            if (table := getattr(type(obj), "__table__", None)) is not None}


@event.listens_for(Session, "after_flush")
def _note_flush(session, _context):
    written = _tables_of(chain(session.new, session.dirty, session.deleted))
    if written:
        session.info.setdefault(_WRITTEN, set()).update(written)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state):
    table = getattr(state.statement, "table", None)
    if (state.is_update or state.is_delete or state.is_insert) and table is not None:
        state.session.info.setdefault(_WRITTEN, set()).add(table.name)


@event.listens_for(Session, "after_commit")
def _new_generations(session):
    written = session.info.pop(_WRITTEN, None)
    if written:
        touch(*written)


def note_written(session, table: str) -> None:
    """For writers that execute on the session's connection (not seen by the ORM): the
    commit gives ``table`` a new generation."""
    session.info.setdefault(_WRITTEN, set()).add(table)


def pending_writes(session) -> set[str]:
    """The tables the session's open transaction has written: what its commit will touch
    (a worker process reports them to the process whose cache readers use)."""
    return set(session.info.get(_WRITTEN, ()))


def touch(*tables: str) -> None:
    """New generations for ``tables``: for writers that bypass the session (COPY)."""
    if has_app_context() and "cache" in current_app.extensions:
        for table in tables:
            if not _set(f"gen:{table}", uuid.uuid4().hex, timeout=0):
                break  # the store is down: the others would wait for it as long
