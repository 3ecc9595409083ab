"""Every insert, update and delete of a data model — core's and plugins' — is audited in
the same transaction as the change, with a field diff; sensitive values are masked.
Audit entries themselves can only be appended (``trail.append``): the ORM refuses to
add, change or delete one any other way, and the database refuses UPDATE and DELETE
(migration 0002's triggers)."""
from __future__ import annotations

from functools import cache

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE

from core.audit.models import AuditEntry, AuditHead
from core.audit.trail import append, entry
from core.registry.validators import mask_id_card, mask_phone

# Tables whose changes are not data changes (permissions synced at start, the audit
# itself) or are already a record of one (history, plugin change log, job progress).
NOT_AUDITED = {"audit_entry", "audit_head", "ab_permission", "ab_view_menu",
               "ab_permission_view", "ab_permission_view_role", "ab_register_user",
               "retiree_history", "plugin_change", "job", "password_history"}
# Bookkeeping columns: a change of only these is not worth an entry.
BOOKKEEPING = {"last_login", "login_count", "fail_login_count", "changed_on", "created_on",
               "changed_by_fk", "created_by_fk", "locked_until", "password_changed_at",
               "updated_at", "updated_by", "created_at", "created_by", "version",
               "region_path", "name_initials", "session_epoch", "totp_last_step",
               "totp_pending"}
HIDDEN = "******"
SENSITIVE = {
    "password": lambda v: HIDDEN,
    "totp_secret": lambda v: HIDDEN,
    "totp_pending": lambda v: HIDDEN,
    "id_card_no": mask_id_card,
    "phone": mask_phone,
    "mobile": mask_phone,
    "health_notes": lambda v: HIDDEN,
    "serious_illness": lambda v: HIDDEN,
}
MAX_TEXT = 300


def shown(name: str, value):
    """How a value appears in the trail."""
    if value is None:
        return None
    if name in SENSITIVE:
        return SENSITIVE[name](value)
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _audited(obj) -> bool:
    table = getattr(obj, "__tablename__", None) or getattr(
        getattr(obj, "__table__", None), "name", None)
    return table is not None and table not in NOT_AUDITED and getattr(obj, "__audit__", True)


def _diff(obj, is_new: bool) -> dict:
    state = inspect(obj)
    changes: dict = {}
    if is_new:
        # What was set on a new object is its dict's modified keys: read it straight,
        # without a history object per column (imports write thousands per flush).
        columns = _column_keys(state.mapper)
        for key in state.committed_state:
            value = state.dict.get(key)
            if key in columns and key not in BOOKKEEPING and value is not None:
                changes[key] = shown(key, value)
        return {**changes, **_relationship_changes(state)}
    unmodified = state.unmodified  # no change to read: skipped (imports write thousands)
    for attr in state.mapper.column_attrs:
        if attr.key in BOOKKEEPING or attr.key in unmodified:
            continue
        hist = state.get_history(attr.key, PASSIVE_NO_INITIALIZE)
        if is_new:
            value = hist.added[0] if hist.added else None
            if value is not None:
                changes[attr.key] = shown(attr.key, value)
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                changes[attr.key] = [shown(attr.key, old), shown(attr.key, new)]
    return {**changes, **_relationship_changes(state)}


def _relationship_changes(state) -> dict:
    """Many-to-many and one-to-many collections (a user's roles): before and after."""
    changes = {}
    for rel in state.mapper.relationships:
        if not rel.uselist or rel.viewonly:
            continue
        hist = state.get_history(rel.key, PASSIVE_NO_INITIALIZE)
        if hist.added or hist.deleted:
            before = sorted(str(x) for x in [*hist.unchanged, *hist.deleted])
            after = sorted(str(x) for x in [*hist.unchanged, *hist.added])
            if before != after:
                changes[rel.key] = [before, after]
    return changes


@cache
def _column_keys(mapper) -> frozenset[str]:
    return frozenset(attr.key for attr in mapper.column_attrs)


def _object_id(obj):
    state = inspect(obj)
    identity = state.mapper.primary_key_from_instance(obj)
    if not identity or any(v is None for v in identity):
        return None
    return identity[0] if len(identity) == 1 else ",".join(map(str, identity))


def _action(obj, changes: dict) -> str:
    state = changes.get("management_state")
    if isinstance(state, list) and state[1] == "removed":
        return "remove"
    return "update"


_ready_engines: set = set()


def _audit_tables_exist(session: Session) -> bool:
    """False on a database not yet migrated to 0002 (``init`` seeds in between)."""
    bind = session.get_bind()
    key = str(bind.url)
    if key in _ready_engines:
        return True
    if inspect(session.connection()).has_table("audit_entry"):
        _ready_engines.add(key)
        return True
    return False


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, flush_context, instances) -> None:
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(obj, AuditEntry | AuditHead):
            raise PermissionError("审计记录只能追加，不能修改或删除")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_changes(state) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in (AuditEntry, AuditHead):
        raise PermissionError("审计记录只能追加，不能修改或删除")


@event.listens_for(Session, "after_flush")
def _audit_changes(session: Session, flush_context) -> None:
    rows = []
    for obj in session.new:
        if _audited(obj):
            rows.append(entry("create", object_type=type(obj).__name__,
                              object_id=_object_id(obj), detail=_diff(obj, True)))
    for obj in session.dirty:
        if not _audited(obj) or not session.is_modified(obj):
            continue
        changes = _diff(obj, False)
        if changes:
            rows.append(entry(_action(obj, changes), object_type=type(obj).__name__,
                              object_id=_object_id(obj), detail=changes))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(entry("delete", object_type=type(obj).__name__,
                              object_id=_object_id(obj)))
    if rows and _audit_tables_exist(session):
        append(session.connection(), rows)
