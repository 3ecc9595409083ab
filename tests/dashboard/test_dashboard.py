"""Issue #6: the supervisors' dashboard (/dashboard/).

Every number on it is scoped to the user's region subtree and equals the record count of
the retiree list its click opens (each card and bar carries that list's URL, built from
the same conditions as its SQL); numbers the list cannot filter (deaths by date, sex) are
checked against plain SQL. Also: drill-down from the city to a community's list, filters
kept in the URL, plugin charts only where the plugin is on, xlsx and PDF exports, and
aggregation in SQL (a fixed number of GROUP BY statements, never a row).
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

import config
from core.testing import missing
from tests.dashboard.data import list_count, seed_retirees, write_chart_plugin

IN_REGISTER = "('employer_managed', 'community_managed')"
PATHS = {
    "sup": "/320500/",
    "d_cl": "/320500/320502/",
    "d_pj": "/320500/320503/",
    "d_wz": "/320500/320506/",
    "s_cl1": "/320500/320502/320502001/",
    "c_cl11": "/320500/320502/320502001/320502001001/",
}


@pytest.fixture
def seeded(app):
    seed_retirees(app)
    return app


@pytest.fixture
def sql(database_url):
    """Plain SQL on the test database, past every ORM listener: the independent truth."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.drivername.startswith("postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)

    def scalar(statement: str, **params) -> int:
        with engine.connect() as con:
            return con.execute(text(statement), params).scalar_one()

    yield scalar
    engine.dispose()


def board(client, **args) -> dict:
    response = client.get("/dashboard/data", query_string=args)
    assert response.status_code == 200, response.status_code
    return response.json


def chart(data: dict, key: str) -> dict:
    return next(c for c in data["charts"] if c["key"] == key)


def card(data: dict, key: str) -> dict:
    return next(c for c in data["cards"] if c["key"] == key)


def linked_numbers(data: dict):
    """(what, number, list URL) for every card and chart number that has a list."""
    for c in data["cards"]:
        if c["url"]:
            yield c["title"], c["value"], c["url"]
    for ch in data["charts"]:
        for s in ch["series"]:
            for category, number, url in zip(ch["categories"], s["data"], s.get("lists") or [],
                                             strict=False):
                if url:
                    yield f"{ch['title']} / {s['name']} / {category}", number, url


# --- numbers = list counts -------------------------------------------------------------

CASES = [
    ("sup", {}),
    ("sup", {"region": "320502001"}),
    ("d_cl", {"from": "1995-01-01", "to": date.today().isoformat()}),
    ("s_cl1", {}),
    ("c_cl11", {}),
    ("d_wz", {"from": "2000-01-01"}),
]


@pytest.mark.parametrize(("username", "args"), CASES,
                         ids=[f"{u}-{'-'.join(a) or 'all'}" for u, a in CASES])
def test_every_number_equals_its_lists_record_count(seeded, client_for, username, args):
    client = client_for(username)
    data = board(client, **args)
    checked, wrong = 0, []
    for what, number, url in linked_numbers(data):
        got = list_count(client, url)
        checked += 1
        if got != number:
            wrong.append(f"{what}: dashboard {number}, list {got} ({url})")
    assert not wrong, "\n".join(wrong)
    assert checked >= 20, f"only {checked} numbers carry a list link"
    for key in ("total", "local", "outside", "incomplete"):
        assert card(data, key)["url"], key


@pytest.mark.parametrize("username", ["sup", "d_cl", "d_wz", "s_cl1", "c_cl11"])
def test_numbers_match_plain_sql_in_the_users_subtree(seeded, client_for, sql, username):
    data = board(client_for(username))
    p = PATHS[username] + "%"
    registered = f"region_path LIKE :p AND management_state IN {IN_REGISTER}"
    total = sql(f"SELECT count(*) FROM retiree WHERE {registered}", p=p)
    assert card(data, "total")["value"] == total
    assert sum(chart(data, "region")["series"][0]["data"]) == total
    age = chart(data, "age")
    for series, gender in zip(age["series"], ("male", "female"), strict=True):
        assert sum(series["data"]) == sql(
            f"SELECT count(*) FROM retiree WHERE {registered} AND gender = :g", p=p, g=gender)
    year = date.today().year
    assert card(data, "deaths")["value"] == sql(
        "SELECT count(*) FROM retiree WHERE region_path LIKE :p AND management_state = "
        "'deceased' AND death_date >= :a AND death_date <= :b",
        p=p, a=date(year, 1, 1), b=date(year, 12, 31))
    monthly = chart(data, "monthly")
    first = date.fromisoformat(monthly["categories"][0] + "-01")
    assert sum(monthly["series"][1]["data"]) == sql(
        "SELECT count(*) FROM retiree WHERE region_path LIKE :p AND management_state = "
        "'deceased' AND death_date >= :a AND death_date <= :b", p=p, a=first, b=date.today())
    special = dict(zip(chart(data, "special")["categories"],
                       chart(data, "special")["series"][0]["data"], strict=True))
    assert special["鳏寡"] == sql(
        f"SELECT count(*) FROM retiree WHERE {registered} AND widowed_alone = :t", p=p, t=True)
    forms = chart(data, "forms")
    assert sum(sum(s["data"]) for s in forms["series"]) == sql(
        f"SELECT count(*) FROM retiree WHERE {registered} AND residence_type = 'local'", p=p)
    assert total > 0


def test_illness_counts_only_for_roles_that_read_health_fields(seeded, client_for):
    """PIPL, as the retiree list: supervisors see family status, 鳏寡 and 残疾, not the
    illness breakdown; staff see it, each number with its list."""
    sup = chart(board(client_for("sup")), "special")
    assert "精神病" not in sup["categories"] and "鳏寡" in sup["categories"]
    assert "健康信息" in sup["note"]
    staff = chart(board(client_for("d_cl")), "special")
    assert {"精神病", "恶性肿瘤", "尿毒症", "因病丧失生活自理能力"} <= set(staff["categories"])


def test_a_user_sees_only_their_subtree(seeded, client_for, sql):
    everyone = sql("SELECT count(*) FROM retiree")
    d_cl = board(client_for("d_cl"))
    assert d_cl["region"]["code"] == "320502"
    assert card(d_cl, "total")["value"] < everyone
    assert card(d_cl, "outside")["value"] == 0  # outside residents belong to the city
    # Another district's code falls back to the user's own region, with a message.
    other = board(client_for("d_cl"), region="320503")
    assert other["region"]["code"] == "320502" and other["messages"]
    assert card(other, "total")["value"] == card(d_cl, "total")["value"]
    # A community clerk cannot widen their view to the district.
    c = board(client_for("c_cl11"), region="320502")
    assert c["region"]["code"] == "320502001001" and c["messages"]
    assert chart(c, "region")["categories"] == ["东园社区"]
    # The city's numbers are the sum of the districts' and the outside residents'.
    sup = board(client_for("sup"))
    region = chart(sup, "region")
    per_district = dict(zip(region["categories"], region["series"][0]["data"], strict=True))
    assert per_district["沧浪区"] == card(d_cl, "total")["value"]
    assert per_district["居外人员"] == card(sup, "outside")["value"]


def test_drill_down_from_the_city_to_a_communitys_list(seeded, client_for):
    client = client_for("sup")
    city = chart(board(client), "region")
    assert city["links"]["沧浪区"] == "/dashboard/?region=320502"
    district = chart(board(client, region="320502"), "region")
    assert district["categories"] == ["双塔街道", "葑门街道"]
    assert district["links"]["双塔街道"] == "/dashboard/?region=320502001"
    street = chart(board(client, region="320502001"), "region")
    assert street["categories"] == ["东园社区", "西街社区"]
    url = street["links"]["东园社区"]
    assert url.startswith("/retiree/list/?")
    assert list_count(client, url) == street["series"][0]["data"][0] > 0
    page = client.get("/dashboard/?region=320502001").get_data(as_text=True)
    crumbs = page[page.index('id="ra-crumbs"'):page.index("</ol>", page.index('id="ra-crumbs"'))]
    assert [n for n in ("苏州市", "沧浪区", "双塔街道") if n in crumbs] == ["苏州市", "沧浪区", "双塔街道"]
    assert 'href="/dashboard/?region=320502"' in crumbs


# --- filters in the URL -----------------------------------------------------------------

def test_filters_are_kept_in_the_url(seeded, client_for):
    client = client_for("sup")
    args = {"region": "320502", "from": "2000-01-01", "to": "2020-12-31"}
    response = client.get("/dashboard/", query_string=args)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<option value="320502" selected>' in page
    assert 'name="from" class="form-control input-sm"\n             value="2000-01-01"' in page
    assert 'value="2020-12-31"' in page
    data = board(client, **args)
    assert data["filters"] == args
    exports = [c["xlsx"] for c in data["charts"]]
    for url in exports + list(chart(data, "region")["links"].values()):
        query = parse_qs(urlsplit(url).query)
        if url.startswith("/dashboard/"):
            assert query["from"] == ["2000-01-01"] and query["to"] == ["2020-12-31"], url
    assert 'href="/dashboard/pdf?region=320502&amp;from=2000-01-01&amp;to=2020-12-31"' in page
    # The date range narrows every registered count to people retired in it.
    narrowed = card(data, "total")["value"]
    assert 0 < narrowed < card(board(client, region="320502"), "total")["value"]


def test_malformed_filters_are_reported_and_ignored(seeded, client_for):
    client = client_for("sup")
    data = board(client, **{"from": "2020-13-01", "region": "999999"})
    assert len(data["messages"]) == 2 and data["filters"] == {}
    data = board(client, **{"from": "2021-01-01", "to": "2020-01-01"})
    assert "开始日期晚于结束日期" in data["messages"][0] and data["filters"] == {}


# --- plugin charts --------------------------------------------------------------------

@pytest.fixture
def plugin_app(app_factory, tmp_path, monkeypatch):
    package = write_chart_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    app = app_factory(PLUGIN_PACKAGES=[*config.PLUGIN_PACKAGES, package])
    seed_retirees(app)
    yield app
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


def switch(app, enabled: bool) -> None:
    from core.extensions import db
    from core.regions import region_by_code

    with app.app_context():
        app.extensions["retiree_admin.plugins"].set_enabled(
            db.session, "chart_demo", region_by_code(db.session, "320506"), enabled, "test")


def test_plugin_charts_appear_only_where_the_plugin_is_enabled(plugin_app, client_for, sql):
    """Item 3, the ``charts`` hook: a plugin's charts show where it is on (its district,
    and the city above it), count through the scoped session, and a failing one shows
    its error without taking the page down."""
    def keys(username, **args):
        data = board(client_for(username, plugin_app), **args)
        return {c["key"]: c for c in data["charts"] if c["key"].startswith("chart_demo.")}

    assert keys("d_wz") == {} and keys("sup") == {}
    switch(plugin_app, True)
    wz = keys("d_wz")
    assert set(wz) == {"chart_demo.gender", "chart_demo.broken"}
    assert wz["chart_demo.gender"]["plugin"] == "测试图表插件"
    # The plugin counts through the scoped session: 吴中区 only.
    p = PATHS["d_wz"] + "%"
    assert wz["chart_demo.gender"]["series"][0]["data"] == [
        sql(f"SELECT count(*) FROM retiree WHERE region_path LIKE :p AND gender = :g "
            f"AND management_state IN {IN_REGISTER}", p=p, g=g) for g in ("male", "female")]
    assert sum(wz["chart_demo.gender"]["series"][0]["data"]) > 0
    # A failing plugin chart shows its error; the page still renders.
    assert wz["chart_demo.broken"]["error"] and not wz["chart_demo.broken"]["series"]
    page = client_for("d_wz", plugin_app).get("/dashboard/")
    assert page.status_code == 200 and "测试插件：在册人员性别" in page.get_data(as_text=True)
    assert keys("d_cl") == {}
    assert set(keys("sup")) == set(wz)  # on somewhere below the city
    assert keys("sup", region="320502") == {}
    assert keys("sup", region="320506")["chart_demo.gender"]["series"] == \
        wz["chart_demo.gender"]["series"]
    switch(plugin_app, False)
    assert keys("d_wz") == {} and keys("sup") == {}


# --- exports -------------------------------------------------------------------------

def test_xlsx_of_one_chart_and_of_the_whole_dashboard(seeded, client_for):
    client = client_for("d_cl")
    data = board(client, region="320502001")
    category = chart(data, "category")
    response = client.get(category["xlsx"])
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = [r for r in ws.iter_rows(values_only=True)]
    assert rows[0][0] == "人员类别"
    assert "沧浪区双塔街道" in rows[1][0]
    header = rows.index(("分类", "人数"))
    body = rows[header + 1:header + 1 + len(category["categories"])]
    assert [list(r) for r in body] == [[c, n] for c, n in zip(
        category["categories"], category["series"][0]["data"], strict=True)]
    assert rows[header + 1 + len(body)] == ("合计", sum(category["series"][0]["data"]))
    assert ws._charts, "the sheet carries an Excel chart"

    response = client.get("/dashboard/xlsx?region=320502001")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[0] == "概况"
    assert len(book.sheetnames) == 1 + len(data["charts"])
    summary = {r[0]: r[1] for r in book["概况"].iter_rows(values_only=True) if r[0]}
    assert summary["在册人员"] == card(data, "total")["value"]
    assert summary["登记表未完整"] == card(data, "incomplete")["value"]
    forms = book[[n for n in book.sheetnames if n.startswith("登记表完整")][0]]
    assert forms.cell(4, 1).value == "分类" and forms.cell(4, 2).value == "未完整"
    assert client.get("/dashboard/xlsx?chart=nothing").status_code == 404


@pytest.fixture(scope="module")
def poppler():
    tools = {name: shutil.which(name) for name in ("pdftotext", "pdfinfo")}
    if not all(tools.values()):
        missing("poppler-utils missing: apt-get install -y poppler-utils")
    return tools


def test_summary_pdf_is_one_page_with_the_numbers(seeded, client_for, poppler, tmp_path):
    client = client_for("sup")
    data = board(client, region="320502")
    response = client.get("/dashboard/pdf?region=320502")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "summary.pdf"
    path.write_bytes(response.data)
    info = subprocess.run([poppler["pdfinfo"], str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    assert "(A4)" in info
    txt = subprocess.run([poppler["pdftotext"], "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, check=True).stdout.decode("utf-8")
    flat = "".join(txt.split())
    assert "企业退休人员统计摘要" in flat and "区域：沧浪区" in flat
    for c in data["cards"]:
        assert c["title"] in flat and f"{c['value']:,}" in flat, c
    for ch in data["charts"][:10]:
        assert ch["title"] in flat, ch["title"]
    assert "双塔街道" in flat and "葑门街道" in flat


# --- aggregation in SQL --------------------------------------------------------------

def test_charts_aggregate_in_sql_and_never_load_rows(app, client_for):
    """Item 7: counted in SQL, never row by row."""
    from core.testing import statements

    client = client_for("sup")

    def tally_statements() -> list[str]:
        with statements(app) as seen:
            assert client.get("/dashboard/data").status_code == 200
        return [s for s in seen if "retiree" in s.lower() and "retiree_" not in s.lower()]

    seed_retirees(app, n=20)
    small = tally_statements()
    seed_retirees(app, n=200, seed=7)
    large = tally_statements()
    # One grouped pass of conditional counts for the cards and all seven charts: the same
    # one statement for 20 people or 220.
    assert len(small) == len(large) == 1, large
    flat = " ".join(large[0].lower().split())
    assert "retiree.name" not in flat and "retiree.id_card_no" not in flat, flat
    assert flat.endswith("group by retiree.region_path, retiree.form_complete, "
                         "retiree.management_state, retiree.gender"), flat
    # Conditions on the grouped columns (the region bars, in the register, the age
    # pyramid's sides) are checked on the groups, not per row: no conditional count tests
    # the region, the state or the gender.
    counts = flat.split(" from retiree ")[0].split("count(*) filter (where")[1:]
    assert len(counts) >= 40, flat
    assert not [c for c in counts if "region_path" in c or "management_state" in c
                or "gender" in c], flat


# --- access and navigation -------------------------------------------------------------

def test_dashboard_is_in_the_menu_and_on_the_home_page(app, client_for):
    client = client_for("sup")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/dashboard/"' in home and "统计图表" in home
    for url in ("/dashboard/", "/dashboard/data", "/dashboard/xlsx", "/dashboard/pdf"):
        assert client.get(url).status_code == 200, url
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "/ra-static/vendor/echarts/echarts.min.js" in page
    assert "/ra-static/js/ra-dashboard.js" in page
    assert "gstatic" not in page and "googleapis" not in page and "cdn" not in page.lower()
    anonymous = app.test_client().get("/dashboard/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client_for("c_cl11").get("/dashboard/").status_code == 200


def test_echarts_is_vendored_with_its_licence(app):
    from pathlib import Path

    folder = Path(app.static_folder) / "vendor" / "echarts"
    assert (folder / "echarts.min.js").stat().st_size > 500_000
    assert "Apache License" in (folder / "LICENSE.txt").read_text("utf-8")
    assert "5.6.0" in (folder / "README.txt").read_text("utf-8")
    served = app.test_client().get("/ra-static/vendor/echarts/echarts.min.js")
    assert served.status_code == 200 and b"echarts" in served.data[:2000]
    served.close()


# --- issue #14 item 20 ---------------------------------------------------------------

def _many_groups_board():
    from core.charts import ChartFilters
    from core.dashboard.board import Board

    districts = [f"第{i:02d}测试区" for i in range(1, 91)]
    bands = [f"{60 + 2 * i}-{61 + 2 * i}岁" for i in range(22)]
    months = [f"{2020 + i // 12}-{i % 12 + 1:02d}" for i in range(40)]
    charts = [
        {"key": "region", "title": "各区在册人员", "kind": "bar", "note": "按区",
         "categories": districts, "series": [{"name": "人数", "data": list(range(1, 91))}]},
        {"key": "age", "title": "年龄结构", "kind": "pyramid", "note": "",
         "categories": bands, "series": [{"name": "男", "data": [7] * 22},
                                         {"name": "女", "data": [9] * 22}]},
        {"key": "monthly", "title": "每月退休人数", "kind": "line", "note": "",
         "categories": months, "series": [{"name": "退休", "data": [3] * 40}]},
        {"key": "small", "title": "人员类别", "kind": "hbar", "note": "",
         "categories": ["企业退休", "其他"], "series": [{"name": "人数", "data": [5, 1]}]},
    ]
    return Board(home=None, node=None, filters=ChartFilters(), charts=charts,
                 cards=[{"key": "total", "title": "在册人员", "value": 1830}]), \
        districts, bands, months


def test_summary_pdf_never_truncates_a_charts_groups(app, poppler, tmp_path):
    """Issue #14 item 20: 90 districts, 22 age bands and 40 months (more groups than a
    half-page cell holds) are all printed, each with its name, none summed away."""
    from core.dashboard.export import summary_pdf

    board_, districts, bands, months = _many_groups_board()
    with app.app_context():
        data = summary_pdf(board_, "测试")
    path = tmp_path / "many.pdf"
    path.write_bytes(data)
    txt = subprocess.run([poppler["pdftotext"], "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, check=True).stdout.decode("utf-8")
    flat = "".join(txt.split())
    missing_groups = [g for g in [*districts, *bands] if g not in flat]
    assert not missing_groups, missing_groups
    assert all(m in flat for m in months), [m for m in months if m not in flat]
    assert "其余" not in flat and "此前" not in flat and "未列出" not in flat
    assert "…" not in flat
    assert "各区在册人员（续）" in flat and "人员类别" in flat
    info = subprocess.run([poppler["pdfinfo"], str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1)) >= 2


def test_instalment_chart_counts_in_qi_not_people(app):
    """Issue #14 item 20: the fees plugin's instalment chart counts instalments (期); money
    charts count 元; core's charts count people (the default 人)."""
    pytest.importorskip("plugins.fees")
    from core.charts import ChartFilters
    from core.extensions import db
    from plugins.fees.chart_data import collected_vs_due, instalment_compliance

    with app.app_context():
        compliance = instalment_compliance(db.session, ChartFilters())
        money = collected_vs_due(db.session, ChartFilters())
    assert [s["unit"] for s in compliance.series] == ["期"]
    assert "人" not in compliance.series[0]["name"]
    assert {s["unit"] for s in money.series} == {"元"}


def test_region_chart_hint_is_on_screen_not_in_the_exports(seeded, client_for):
    """Issue #14 item 20: what a click does is said on the page, not in the chart's note
    that the PNG and the PDF print."""
    client = client_for("sup")
    region = chart(board(client), "region")
    assert "点击" in region["hint"] and "点击" not in region["note"]
    assert "点击柱形进入下一级" in client.get("/dashboard/").get_data(as_text=True)
