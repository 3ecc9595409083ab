"""Issue #6 in a real browser: the dashboard draws every chart with the ECharts served by
the app (no other host is asked for anything), a click drills down from the city to a
community and then to its retiree list, the filters travel in the URL, and a chart saves
itself as a PNG with ECharts' own export."""
from __future__ import annotations

import struct

import pytest

from tests.dashboard.data import seed_retirees

ALL_DRAWN = """
const boxes = Array.from(document.querySelectorAll('.ra-chart'));
return window.raDashboard !== undefined && boxes.length > 0 &&
       boxes.every(b => b.querySelector('canvas') || b.querySelector('svg'));
"""


@pytest.fixture
def seeded(app):
    seed_retirees(app)
    return app


def wait_drawn(b) -> dict:
    b.wait(lambda d: d.execute_script(ALL_DRAWN))
    return b.js("return window.raDashboard.board")


def click_bar(b, chart_key: str, category: str) -> None:
    """Click the middle of a bar of an ECharts chart with the real mouse."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    x, y = b.js("""
        const [key, name] = arguments;
        const chart = window.raDashboard.board.charts.find(c => c.key === key);
        const i = chart.categories.indexOf(name);
        const inst = window.raDashboard.charts[key];
        return inst.convertToPixel({seriesIndex: 0}, [i, chart.series[0].data[i] / 2]);
    """, chart_key, category)
    box = b.driver.find_element(By.CSS_SELECTOR, f'.ra-chart[data-chart="{chart_key}"]')
    b.js("arguments[0].scrollIntoView({block: 'center'})", box)
    size = box.size
    ActionChains(b.driver).move_to_element_with_offset(
        box, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()


def bar_value(board: dict, key: str, category: str) -> int:
    chart = next(c for c in board["charts"] if c["key"] == key)
    return chart["series"][0]["data"][chart["categories"].index(category)]


def test_dashboard_draws_drills_down_and_exports(seeded, browser):
    from selenium.webdriver.common.by import By

    b = browser(seeded)
    b.login("sup")
    b.click("#ra-home-dashboard")
    assert "统计图表" in b.menu_text()
    board = wait_drawn(b)
    assert b.path == "/dashboard/"
    keys = [c["key"] for c in board["charts"]]
    assert keys == ["region", "category", "state", "special", "age", "monthly", "forms"]
    drawn = b.js("return Object.keys(window.raDashboard.charts).length")
    assert drawn == len(keys)
    cards = b.js("return Array.from(document.querySelectorAll('.ra-dash-card'))"
                 ".map(c => c.innerText)")
    assert any("在册人员" in c for c in cards) and any("本年死亡" in c for c in cards)
    b.screenshot("city")

    # PNG through ECharts' getDataURL: a real file lands in the download folder.
    for old in b.driver.downloads.glob("*.png"):
        old.unlink()
    b.click('.ra-png[data-chart="age"]')
    png = b.driver.downloads / "年龄结构（按性别）.png"  # the chart title (issue 14 item 7)
    b.wait(lambda d: png.exists() and png.stat().st_size > 0)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and height >= 600, (width, height)  # drawn at pixelRatio 2

    # Drill down: city → 沧浪区 → 双塔街道 → 东园社区's list, with the mouse.
    click_bar(b, "region", "沧浪区")
    b.wait(lambda d: "region=320502" in d.current_url)
    board = wait_drawn(b)
    assert board["region"]["name"] == "沧浪区"
    b.screenshot("district")
    click_bar(b, "region", "双塔街道")
    b.wait(lambda d: "region=320502001" in d.current_url)
    board = wait_drawn(b)
    crumbs = b.driver.find_element(By.ID, "ra-crumbs").text
    assert crumbs.split() == ["苏州市", "沧浪区", "双塔街道"] or "双塔街道" in crumbs
    expected = bar_value(board, "region", "东园社区")
    b.screenshot("street")
    click_bar(b, "region", "东园社区")
    b.wait(lambda d: "/retiree/list/" in d.current_url)
    page = b.driver.find_element(By.TAG_NAME, "body").text
    assert f"记录数: {expected}" in page or f"记录数：{expected}" in page \
        or f"记录数目: {expected}" in page, page[:500]
    b.screenshot("community-list")
    b.check_clean()


def test_filters_travel_in_the_url(seeded, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = browser(seeded)
    b.login("d_cl")
    b.get("/dashboard/")
    wait_drawn(b)
    Select(b.driver.find_element(By.ID, "ra-f-region")).select_by_value("320502001")
    b.js("document.getElementById('ra-f-from').value = '1990-01-01';"
         "document.getElementById('ra-f-to').value = '2030-12-31';")
    b.click("#ra-f-submit")
    b.wait(lambda d: "region=320502001" in d.current_url)
    assert "from=1990-01-01" in b.driver.current_url and "to=2030-12-31" in b.driver.current_url
    board = wait_drawn(b)
    assert board["filters"] == {"region": "320502001", "from": "1990-01-01", "to": "2030-12-31"}
    # The bookmark reproduces the board.
    b.get(b.path)
    again = wait_drawn(b)
    assert again["cards"] == board["cards"]
    pdf = b.driver.find_element(By.ID, "ra-export-pdf").get_attribute("href")
    assert "region=320502001" in pdf and "from=1990-01-01" in pdf
    b.screenshot("filtered")
    b.check_clean()
