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
    category to the URL a click drills down to (a narrower chart or a filtered list)."""

    categories: list[str]
    series: list[dict]  # [{"name": "人数", "data": [1, 2, …]}, …]
    links: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartSpec:
    """One chart: a stable key, a Chinese title, a kind (bar, pie, line, pyramid) and the
    function computing its data."""

    key: str
    title: str
    kind: str
    data: Callable[..., ChartData]
    description: str = ""
