"""What a dashboard number counts, written once and rendered two ways.

A ``Cond`` list is both the ``WHERE`` of an aggregate over ``Retiree`` and the filters of
the retiree list (``/retiree/list/?_flt_<n>_<column>=…``) that shows exactly the people
counted, so that a number and the list a click opens cannot drift apart. The list's
filter numbers are looked up on the registered view, as FAB's ``get_filter_args`` reads
them (a one-digit index into the column's filters), never hard-coded; a condition the list
cannot express (a column it does not search) gives no link rather than a wrong one.
Dates are whole days, so an inclusive range is written as strict ``gt``/``lt`` bounds,
which is what the list's date filters offer.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app, url_for

from core.registry.models import Retiree


@dataclass(frozen=True)
class RegionRef:
    code: str
    path: str


@dataclass(frozen=True)
class Cond:
    """``column`` ``op`` ``value`` on Retiree. Ops: ``under`` (region subtree, value a
    RegionRef), ``at`` (exactly that region's path), ``eq``, ``neq``, ``in``, ``not_in``,
    ``gt``, ``lt``."""

    column: str
    op: str
    value: Any


def under(region: RegionRef) -> Cond:
    return Cond("region_path", "under", region)


def at(region: RegionRef) -> Cond:
    return Cond("region_path", "at", region)


def eq(column: str, value) -> Cond:
    return Cond(column, "eq", value)


def neq(column: str, value) -> Cond:
    return Cond(column, "neq", value)


def among(column: str, values: Sequence) -> Cond:
    return Cond(column, "in", tuple(values))


def outside_of(column: str, values: Sequence) -> Cond:
    return Cond(column, "not_in", tuple(values))


def on_or_after(column: str, day: date) -> Cond:
    return Cond(column, "gt", day - timedelta(days=1))


def on_or_before(column: str, day: date) -> Cond:
    return Cond(column, "lt", day + timedelta(days=1))


def between(column: str, first: date | None, last: date | None) -> list[Cond]:
    """Inclusive range of whole days; an open end adds nothing."""
    out = []
    if first is not None:
        out.append(on_or_after(column, first))
    if last is not None:
        out.append(on_or_before(column, last))
    return out


def narrowest(conds: Iterable[Cond]) -> list[Cond]:
    """Drop a region subtree that another, narrower one in the list lies inside."""
    conds = list(conds)
    paths = [c.value.path for c in conds if c.op == "under"]
    return [c for c in conds if c.op != "under"
            or not any(p != c.value.path and p.startswith(c.value.path) for p in paths)]


# --- SQL ---------------------------------------------------------------------------

def where(conds: Iterable[Cond]) -> list:
    """The conditions as SQLAlchemy expressions on Retiree."""
    out = []
    for c in narrowest(conds):
        col = getattr(Retiree, c.column)
        if c.op == "under":
            out.append(col.startswith(c.value.path, autoescape=True))
        elif c.op == "at":
            out.append(col == c.value.path)
        elif c.op == "eq":
            out.append(col == c.value)
        elif c.op == "neq":
            out.append(col != c.value)
        elif c.op == "in":
            out.append(col.in_(c.value))
        elif c.op == "not_in":
            out.append(col.not_in(c.value))
        elif c.op == "gt":
            out.append(col > c.value)
        elif c.op == "lt":
            out.append(col < c.value)
        else:
            raise ValueError(f"unknown condition {c.op}")
    return out


def holds(c: Cond, value) -> bool:
    """Whether a row whose ``c.column`` is ``value`` meets ``c``, as SQL decides it: a
    NULL meets no condition."""
    if value is None:
        return False
    if c.op == "under":
        return value.startswith(c.value.path)
    if c.op == "at":
        return value == c.value.path
    if c.op in ("eq", "neq"):
        return (value == c.value) == (c.op == "eq")
    if c.op in ("in", "not_in"):
        return (value in c.value) == (c.op == "in")
    if c.op in ("gt", "lt"):
        return value > c.value if c.op == "gt" else value < c.value
    raise ValueError(f"unknown condition {c.op}")


# --- the retiree list --------------------------------------------------------------

# Which of FAB's filter classes (by name, first found wins) renders each op, and how the
# value is written. FilterInRegion is core's region filter (code); without it, the
# subtree is a prefix of the path.
_FILTERS = {
    "under": (("FilterInRegion", lambda v: v.code), ("FilterStartsWith", lambda v: v.path)),
    "at": (("FilterEqual", lambda v: v.path),),
    "eq": (("FilterEqual", None),),
    "neq": (("FilterNotEqual", None),),
    "in": (("FilterIn", None),),
    "not_in": (("FilterNotIn", None),),
    "gt": (("FilterGreater", None),),
    "lt": (("FilterSmaller", None),),
}


def _plain(value) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _retiree_list_view():
    from core.registry.views import RetireeModelView

    for view in current_app.appbuilder.baseviews:
        if isinstance(view, RetireeModelView):
            return view
    return None


def _index(options: list, class_name: str) -> int | None:
    for i, flt in enumerate(options):
        if any(cls.__name__ == class_name for cls in type(flt).__mro__):
            return i
    return None


def _pick(options: list, op: str):
    """(index, value renderer) of the first filter class that renders ``op``."""
    for class_name, render in _FILTERS[op]:
        n = _index(options, class_name)
        if n is not None and n <= 9:  # FAB parses a one-digit index
            return n, render
    return None


def list_args(conds: Iterable[Cond]) -> list[tuple[str, str]] | None:
    """The list's query arguments for ``conds``, or None when it cannot express them."""
    view = _retiree_list_view()
    if view is None:
        return None
    searchable = view._filters.get_search_filters()
    # FAB's get_filter_args resolves ``_flt_<n>_<col>`` against this list.
    options_of = view._filters._all_filters
    args: list[tuple[str, str]] = []
    for c in narrowest(conds):
        if c.column not in searchable:
            return None
        options = options_of.get(c.column, [])
        op, value = c.op, c.value
        if op in ("eq", "neq") and isinstance(value, bool):
            # FAB reads a boolean filter value "y" as True and anything else as NULL.
            op = op if value else ("neq" if op == "eq" else "eq")
            value = "y"
        picked = _pick(options, op)
        if picked is None:
            return None
        n, render = picked
        shown = render(value) if render else value
        values = shown if isinstance(shown, tuple) else (shown,)
        args.extend((f"_flt_{n}_{c.column}", _plain(v)) for v in values)
    return args


def list_url(conds: Iterable[Cond]) -> str | None:
    """The retiree list showing exactly the rows ``conds`` count, or None."""
    args = list_args(list(conds))
    if args is None:
        return None
    view = _retiree_list_view()
    return url_for(f"{type(view).__name__}.list") + ("?" + urlencode(args) if args else "")
