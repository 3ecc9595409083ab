"""Region scoping: one mechanism for every scoped model, on every path (A6).

A scoped model carries ``region_path`` — the materialised path of the region it belongs
to ("/320500/320502/320502001/…/"). A user may read and write only rows whose path
starts with the path of the user's own region. Two session-wide listeners enforce it,
so no view, API, drop-down, count, export or chart can forget it:

* reads: ``do_orm_execute`` adds ``with_loader_criteria`` for every ``ScopedMixin``
  subclass to every ORM SELECT, UPDATE and DELETE (and to relationship loads);
* writes: ``before_flush`` refuses a new, changed or deleted row whose path (old or
  new) lies outside the scope, raising ``ScopeViolation``; nothing is written.

The scope comes from, in order: an explicit ``scoped_to(path)`` / ``unscoped()`` block
(background jobs, rules that must see past the scope); in a web request, the path
resolved once per request in ``before_request`` (until then: nothing — fail closed);
outside any request (CLI run by an operator): unscoped.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_request_context
from sqlalchemy import Index, String, bindparam, event, func, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria

from core.errors import ScopeViolation

# A prefix no path starts with (paths are "/<digits>/…"): anonymous or unresolved users.
NOTHING = "//"
_UNSCOPED = object()
_explicit: contextvars.ContextVar = contextvars.ContextVar("region_scope", default=None)


# The prefix every path starts with: what ``unscoped()`` sees.
EVERYTHING = "/"


def _scope_value() -> str:
    """The scope as the bound parameters carry it. Inside ``unscoped()`` it is every path:
    a lazy load there still carries the criteria of the scoped query that loaded its
    parent (SQLAlchemy propagates them to loaders), and with the empty prefix it found
    nothing: a district user's printed form lost its street and community."""
    if _explicit.get() is _UNSCOPED:
        return EVERYTHING
    return current_scope() or NOTHING


# The scope enters SQL as two bound parameters whose values are read when the statement
# runs: cached statements stay correct for every user, and ``LIKE :ra_scope_pattern`` is
# one bound string that SQLite and PostgreSQL can match against the scope index.
SCOPE_PATH = bindparam("ra_scope_path", callable_=_scope_value, type_=String)
SCOPE_PATTERN = bindparam("ra_scope_pattern", callable_=lambda: _scope_value() + "%",
                          type_=String)


class Scoped:
    """Marker of every model limited to a region subtree. Subclasses define
    ``scope_criterion``; most use ``ScopedMixin``, which stores the path on the row."""

    @classmethod
    def scope_criterion(cls):
        """The SQL condition for rows visible in the current scope; build it from
        ``SCOPE_PATTERN`` (the user's path followed by %) and ``SCOPE_PATH``."""
        raise NotImplementedError


class ScopedMixin(Scoped):
    """Mixin for models limited to a region subtree.

    Subclasses set ``region_path`` before flush, usually in ``compute_region_path``,
    which the write guard calls for every new or changed row.
    """

    region_path: Mapped[str] = mapped_column(String(120), nullable=False)

    def compute_region_path(self) -> str | None:
        """Return the row's path from its region reference (None: keep the column)."""
        return None

    @classmethod
    def scope_criterion(cls):
        return cls.region_path.like(SCOPE_PATTERN)


@event.listens_for(ScopedMixin, "after_mapper_constructed", propagate=True)
def _index_scope(mapper, cls) -> None:
    """Every scoped table gets an index serving ``region_path LIKE 'prefix%'`` ordered by
    id; on PostgreSQL with ``text_pattern_ops`` so that a non-C collation can use it."""
    table = cls.__table__
    cols = [table.c.region_path] + ([table.c.id] if "id" in table.c else [])
    Index(f"ix_{table.name}_scope", *cols, postgresql_ops={"region_path": "text_pattern_ops"})


def path_in_scope(path: str | None, prefix: str | None) -> bool:
    return prefix is None or (path is not None and path.startswith(prefix))


def current_scope() -> str | None:
    """The path prefix the current code may see, or None for everything."""
    explicit = _explicit.get()
    if explicit is _UNSCOPED:
        return None
    if explicit is not None:
        return explicit
    if has_request_context():
        return g.get("region_scope", NOTHING)
    return None


@contextmanager
def scoped_to(prefix: str) -> Iterator[None]:
    """Run a block (a job, a CLI task on behalf of a user) limited to ``prefix``."""
    token = _explicit.set(prefix)
    try:
        yield
    finally:
        _explicit.reset(token)


@contextmanager
def unscoped() -> Iterator[None]:
    """Run a block that must see past the scope: city-wide uniqueness, recorded
    transfers between communities. Use sparingly and never to return rows to a user."""
    token = _explicit.set(_UNSCOPED)
    try:
        yield
    finally:
        _explicit.reset(token)


def set_request_scope(prefix: str | None) -> None:
    """Called once per request with the user's region path (None: no user)."""
    g.region_scope = prefix if prefix else NOTHING


def scoped_classes() -> list[type]:
    """Every mapped class that is scoped (core's and plugins'), from the registry."""
    from flask_appbuilder import Model

    mappers = Model.registry.mappers
    if _scoped_cache.get("n") != len(mappers):
        _scoped_cache["classes"] = [m.class_ for m in mappers if issubclass(m.class_, Scoped)]
        _scoped_cache["n"] = len(mappers)
    return _scoped_cache["classes"]


_scoped_cache: dict = {}


@event.listens_for(Session, "do_orm_execute")
def _scope_reads(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("unscoped"):
        return
    if current_scope() is None:
        return
    # One lambda per concrete class (a lambda on the marker would be analysed against the
    # unmapped base); the lambda form is adapted to aliases such as FAB's joins.
    state.statement = state.statement.options(*(
        with_loader_criteria(cls, lambda c: c.scope_criterion(), include_aliases=True)
        for cls in scoped_classes()))


def _old_path(obj) -> str | None:
    hist = inspect(obj).attrs.region_path.history
    if hist.deleted:
        return hist.deleted[0]
    return hist.unchanged[0] if hist.unchanged else None


@event.listens_for(Session, "before_flush")
def _scope_writes(session: Session, flush_context, instances) -> None:
    prefix = current_scope()
    with session.no_autoflush:
        for obj in list(session.new) + list(session.dirty):
            if not isinstance(obj, ScopedMixin):
                continue
            path = obj.compute_region_path()
            if path is not None and path != obj.region_path:
                obj.region_path = path
            if prefix is None:
                continue
            if not path_in_scope(obj.region_path, prefix):
                raise ScopeViolation("不能把记录登记或移到本辖区以外")
            if obj in session.dirty and not path_in_scope(_old_path(obj), prefix):
                raise ScopeViolation()
        if prefix is not None:
            for obj in session.deleted:
                if isinstance(obj, ScopedMixin) and not path_in_scope(_old_path(obj), prefix):
                    raise ScopeViolation()


def ancestor_of_scope(column):
    """SQL: the scope's path starts with the column's value (the row is an ancestor)."""
    return func.substr(SCOPE_PATH, 1, func.length(column)) == column
