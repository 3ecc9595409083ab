"""Lifecycle events for plugins, fired after the change is committed.

``emit`` picks the plugins enabled for the record's region while the transaction is
still open and queues the event on the session; ``after_commit`` calls the hook; a
rollback drops the queue. The committed session can run no SQL: a plugin that writes
from an event hook uses a session of its own. A failing plugin is logged and never
undoes the committed change.
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_KEY = "retiree_admin.events"


def emit(session: Session, hook: str, path: str | None, **kwargs) -> None:
    relay = current_app.extensions["retiree_admin.plugins"].hook_for(path, session)
    session.info.setdefault(_KEY, []).append((getattr(relay, hook), kwargs))


def queued(session: Session) -> int:
    """How many events wait for the commit: a mark for ``drop_queued``."""
    return len(session.info.get(_KEY, ()))


def drop_queued(session: Session, mark: int) -> None:
    """Forget the events queued after ``mark``: the changes they announce were undone
    (a savepoint rolled back) and must not reach the plugins."""
    del session.info.get(_KEY, [])[mark:]


@event.listens_for(Session, "after_commit")
def _fire(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    if not pending or not has_app_context():
        return
    for caller, kwargs in pending:
        try:
            caller(**kwargs)
        except Exception:
            log.exception("plugin hook %s failed", getattr(caller, "name", caller))


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
