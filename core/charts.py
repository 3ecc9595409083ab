"""The chart contract shared by core's dashboard and plugins (the ``charts`` hook).

A chart is data, not a view: ``ChartSpec.data(session, filters)`` aggregates in SQL
(never loads rows to count them) through the scoped session, so every number is limited
to the user's region subtree like every list. The dashboard renders the result with the
chart library served from our own package and offers it as xlsx, PNG and PDF.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class ChartFilters:
    """What the user chose on the dashboard (kept in the URL): a region inside their
    scope (None: their whole subtree) and a date range (None: open)."""

    region_path: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass
class ChartData:
    """Categories on one axis and one or more numeric series; ``links`` optionally maps a
    category to the URL a click drills down to (a narrower chart or a filtered list).

    A series may carry ``"lists"``: for each number, the URL of the list that shows exactly
    the records counted (or None); a click on that bar opens it unless ``links`` names a
    drill-down for the category. ``note`` is a one-line remark shown under the title and
    printed with the chart; ``hint`` tells the user on screen what a click does and is left
    out of the PNG and PDF exports (issue #14 item 20).

    A series may carry ``"unit"``, the counting word of its numbers (人 unless given:
    期 for instalments, 元 for money); tooltips and labels use it."""

    categories: list[str]
    series: list[dict]  # [{"name": "人数", "data": [1, 2, …], "lists": [url, …]}, …]
    links: dict[str, str] = field(default_factory=dict)
    note: str = ""
    hint: str = ""


@dataclass(frozen=True)
class ChartSpec:
    """One chart: a stable key, a Chinese title, a kind and the function computing its
    data. Kinds: ``bar`` (columns, one group per category), ``hbar`` (horizontal bars,
    for long labels), ``stack`` (horizontal stacked bars), ``pie``, ``line``, ``pyramid``
    (two series drawn left and right of the axis, e.g. men and women by age band).
    ``wide`` asks for the full width of the page (many categories, a time axis)."""

    key: str
    title: str
    kind: str
    data: Callable[..., ChartData]
    description: str = ""
    wide: bool = False
