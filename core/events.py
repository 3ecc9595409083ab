"""Lifecycle events for plugins, fired after the change is committed.

``emit`` queues an event on the session; ``after_commit`` calls the hook with only the
plugins enabled for the region of the record; a rollback drops the queue. A failing
plugin is logged and never undoes the committed change.
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_KEY = "retiree_admin.events"


def emit(session: Session, hook: str, path: str | None, **kwargs) -> None:
    session.info.setdefault(_KEY, []).append((hook, path, kwargs))


@event.listens_for(Session, "after_commit")
def _fire(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    if not pending or not has_app_context():
        return
    plugins = current_app.extensions["retiree_admin.plugins"]
    for hook, path, kwargs in pending:
        try:
            getattr(plugins.hook_for(path, session), hook)(**kwargs)
        except Exception:
            log.exception("plugin hook %s failed", hook)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
