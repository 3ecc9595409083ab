"""Registry rows for the dashboard tests (here and in tests/browser), and a throwaway
plugin that contributes a chart."""
from __future__ import annotations

import re
import textwrap
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

COUNT_RE = re.compile(r"(?:Record Count|记录数目?):</strong>\s*(\d+)")
WUZHONG_COMMUNITY = "320506001001"


def seed_retirees(app, n: int = 150, seed: int = 6, first_no: int = 20_000_000) -> int:
    """Bulk-insert ``n`` varied retirees (core.demo's generator) over the test region
    tree: every category, state and special situation, recent retirements and deaths,
    outside residents, removed records, and some people in 吴中区. Returns ``n``."""
    from core.demo import make_id_card_no, retiree_rows
    from core.extensions import db
    from core.regions import Region
    from core.registry.models import EmploymentAgency, Enterprise, Retiree

    with app.app_context():
        communities = db.session.execute(
            select(Region).where(Region.level == "community").order_by(Region.code)
        ).scalars().all()
        wuzhong = next(c for c in communities if c.code == WUZHONG_COMMUNITY)
        city = db.session.scalar(select(Region).where(Region.level == "city"))
        enterprises = list(db.session.scalars(select(Enterprise.id)))
        agencies = list(db.session.scalars(select(EmploymentAgency.id)))
        start = (db.session.scalar(select(func.count()).select_from(Retiree)) or 0) + first_no
        today = date.today()
        rows = list(retiree_rows(n, seed, communities, city.region_path, enterprises,
                                 agencies, start))
        for i, row in enumerate(rows):
            # Unique across several calls (core.demo numbers each call's rows from 0).
            row["id_card_no"] = make_id_card_no(row["id_card_no"][:6], row["birth_date"],
                                                (start - first_no + i) % 500, row["gender"])
            if i % 7 == 0:  # retired in one of the last few months
                day = date(today.year, today.month, 1) - timedelta(days=31 * (i % 5))
                row["retirement_date"] = day.replace(day=1 + i % 27)
            if i % 11 == 3 and row["community_id"] is not None:
                row["community_id"] = wuzhong.id
                row["region_path"] = wuzhong.region_path
            if i % 29 == 5:
                row["management_state"], row["removed_reason"] = "removed", "录入错误"
                row["death_date"] = None
            if i % 17 == 2:  # a death early this year, whatever today is
                row["management_state"], row["death_date"] = "deceased", date(today.year, 1, 1)
        db.session.execute(insert(Retiree.__table__), rows)
        db.session.commit()
    return n


def list_count(client, url: str) -> int:
    """The record count of a retiree-list page (0 when it finds nothing)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    text = response.get_data(as_text=True)
    found = COUNT_RE.search(text)
    if found:
        return int(found.group(1))
    assert "没有找到记录" in text or "No records found" in text, url
    return 0


PLUGIN_SOURCE = '''
"""A throwaway plugin with one chart: registered people per gender, through the scoped
session (for the dashboard tests)."""
from sqlalchemy import func, select

from core.charts import ChartData, ChartSpec
from core.plugins import PluginInfo, hookimpl

PLUGIN = PluginInfo(name="{name}", title="测试图表插件", version="0.1",
                    description="只用于测试的图表插件", regions=("320506",))


def by_gender(session, filters):
    from core.registry.models import Retiree

    stmt = (select(Retiree.gender, func.count()).where(
        Retiree.management_state.in_(("employer_managed", "community_managed")))
        .group_by(Retiree.gender))
    if filters.region_path:
        stmt = stmt.where(Retiree.region_path.startswith(filters.region_path))
    counts = dict(session.execute(stmt).all())
    return ChartData(["男", "女"], [{{"name": "人数",
                                   "data": [counts.get("male", 0), counts.get("female", 0)]}}])


def broken(session, filters):
    raise RuntimeError("boom")


@hookimpl
def charts():
    return [ChartSpec("gender", "测试插件：在册人员性别", "bar", by_gender),
            ChartSpec("broken", "测试插件：出错的图表", "bar", broken)]
'''


def write_chart_plugin(root: Path, package: str = "ra_dash_test_plugins",
                       name: str = "chart_demo") -> str:
    """Lay out ``<root>/<package>/<name>/__init__.py``; returns the package to add to
    PLUGIN_PACKAGES (``root`` must be on sys.path)."""
    folder = root / package / name
    folder.mkdir(parents=True, exist_ok=True)
    (root / package / "__init__.py").write_text('"""Throwaway plugins."""\n', "utf-8")
    (folder / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE.format(name=name)),
                                        "utf-8")
    return package
