"""The dashboard for one request: filters from the URL, the region they select inside the
user's scope, and every chart that applies there (core's, then the plugins' enabled for
that region), computed through the scoped session."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from flask import current_app, url_for
from sqlalchemy import select

from core.charts import ChartData, ChartFilters, ChartSpec
from core.dashboard import queries
from core.regions import Region
from core.scoping import current_scope, path_in_scope

log = logging.getLogger(__name__)


@dataclass
class Board:
    """What the page, the JSON, the xlsx and the PDF show."""

    home: Region | None  # the user's own region
    node: Region | None  # the region chosen (default: home)
    filters: ChartFilters
    messages: list[str] = field(default_factory=list)
    cards: list[dict] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)

    def query_args(self) -> dict[str, str]:
        """The URL arguments that reproduce this board (bookmarkable)."""
        args = {}
        if self.node is not None and (self.home is None or self.node.id != self.home.id):
            args["region"] = self.node.code
        if self.filters.date_from:
            args["from"] = self.filters.date_from.isoformat()
        if self.filters.date_to:
            args["to"] = self.filters.date_to.isoformat()
        return args

    def describe(self) -> str:
        """The filters in words, for exports."""
        where = self.node.full_name if self.node is not None else "（无）"
        if self.filters.date_from or self.filters.date_to:
            first = self.filters.date_from.isoformat() if self.filters.date_from else "不限"
            last = self.filters.date_to.isoformat() if self.filters.date_to else "不限"
            return f"区域：{where}；退休日期：{first} 至 {last}"
        return f"区域：{where}；退休日期：不限"

    def breadcrumbs(self) -> list[dict]:
        """From the user's region down to the chosen one, each a link."""
        chain, node = [], self.node
        while node is not None:
            chain.append(node)
            if self.home is not None and node.id == self.home.id:
                break
            node = node.parent
        dates = {k: v for k, v in self.query_args().items() if k != "region"}
        return [{"name": r.name, "code": r.code,
                 "url": url_for("DashboardView.index", region=r.code, **dates)}
                for r in reversed(chain)]

    def as_json(self) -> dict:
        return {
            "region": _region_json(self.node),
            "filters": self.query_args(),
            "messages": self.messages,
            "cards": self.cards,
            "charts": self.charts,
        }


def _region_json(region: Region | None) -> dict | None:
    if region is None:
        return None
    return {"code": region.code, "name": region.name, "full_name": region.full_name,
            "level": region.level}


def _date(raw: str | None, label: str, messages: list[str]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        messages.append(f"{label}“{raw}”不是有效日期（格式：2024-01-31），已忽略")
        return None


def home_region(session) -> Region | None:
    scope = current_scope()
    if scope is None:
        return session.scalar(select(Region).where(Region.parent_id.is_(None))
                              .order_by(Region.id))
    return session.scalar(select(Region).where(Region.region_path == scope))


def resolve(session, args) -> Board:
    """Read ``region`` (a code), ``from`` and ``to`` (ISO dates) from the URL; a region
    outside the user's subtree or a malformed date is reported and ignored."""
    messages: list[str] = []
    home = home_region(session)
    node = home
    code = (args.get("region") or "").strip()
    if code:
        found = session.scalar(select(Region).where(Region.code == code))
        if found is None or not path_in_scope(found.region_path, current_scope()):
            messages.append(f"区域“{code}”不存在或不在您的辖区内，已显示本辖区")
        else:
            node = found
    first = _date(args.get("from"), "开始日期", messages)
    last = _date(args.get("to"), "结束日期", messages)
    if first and last and first > last:
        messages.append("开始日期晚于结束日期，日期范围已忽略")
        first = last = None
    filters = ChartFilters(region_path=node.region_path if node else None,
                           date_from=first, date_to=last)
    return Board(home=home, node=node, filters=filters, messages=messages)


def chart_specs(session, node: Region | None) -> list[tuple[str | None, ChartSpec]]:
    """Core's charts, then each plugin's where the plugin is on for ``node``:
    [(plugin name or None, spec)]."""
    out: list[tuple[str | None, ChartSpec]] = [(None, spec) for spec in queries.CORE_CHARTS]
    if node is None:
        return out
    plugins = current_app.extensions["retiree_admin.plugins"]
    for name, spec in plugins.contributions("charts"):
        if plugins.active_for_path(name, node.region_path, session):
            out.append((name, spec))
    return out


def chart_key(plugin: str | None, spec: ChartSpec) -> str:
    return f"{plugin}.{spec.key}" if plugin else spec.key


def _check(data) -> str | None:
    if not isinstance(data, ChartData):
        return "图表数据不是 ChartData"
    for s in data.series:
        if len(s.get("data", ())) != len(data.categories):
            return f"系列“{s.get('name')}”的数据个数与分类个数不一致"
    return None


def compute(session, board: Board, only: str | None = None) -> Board:
    """Fill the board's cards and charts (``only``: one chart key, no cards). Core's
    charts and the cards are counted together (``queries.compute``); each plugin chart
    by its own ``data``."""
    specs = [(plugin, spec) for plugin, spec in chart_specs(session, board.node)
             if only is None or chart_key(plugin, spec) == only]
    core = [spec.key for plugin, spec in specs if plugin is None]
    board.cards, core_data = queries.compute(session, board.filters, core,
                                             with_cards=only is None)
    plugins = current_app.extensions["retiree_admin.plugins"]
    for plugin, spec in specs:
        key = chart_key(plugin, spec)
        entry = {"key": key, "title": spec.title, "kind": spec.kind,
                 "description": spec.description, "wide": spec.wide,
                 "plugin": plugins.plugins[plugin].info.title if plugin else None,
                 "categories": [], "series": [], "links": {}, "note": "", "hint": "", "error": None}
        if plugin is None:
            data, problem = core_data[spec.key], None
        else:
            # A plugin's failure shows on its own chart, never takes the dashboard down.
            try:
                data = spec.data(session, board.filters)
                problem = _check(data)
            except Exception:
                log.exception("chart %s of plugin %s failed", spec.key, plugin)
                session.rollback()
                data, problem = None, "图表数据计算失败，请联系系统管理员"
        if problem:
            entry["error"] = problem
        else:
            entry.update(categories=list(data.categories), series=[dict(s) for s in data.series],
                         links=dict(data.links), note=data.note, hint=data.hint)
        args = {"chart": key, **board.query_args()}
        entry["xlsx"] = url_for("DashboardView.xlsx", **args)
        board.charts.append(entry)
    return board


def region_choices(session, home: Region | None) -> list[tuple[str, str]]:
    """(code, indented name) of every region in the user's subtree, in tree order."""
    if home is None:
        return []
    regions = session.execute(
        select(Region).where(Region.region_path.startswith(home.region_path, autoescape=True))
        .order_by(Region.region_path)).scalars().all()
    depth0 = home.region_path.count("/")
    return [(r.code, "\u3000" * (r.region_path.count("/") - depth0) + r.name) for r in regions]
