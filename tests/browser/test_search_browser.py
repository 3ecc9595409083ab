"""Issue 14 items 6 and 9 in a real browser: the navbar's search box opens the one person
found, lists several under "当前筛选：… ×清除", and a coded field is filtered by picking
its Chinese label."""
from __future__ import annotations


def test_navbar_search_and_coded_filter_by_label(app, browser, create_retiree):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    found = create_retiree(1, name="王建国")
    create_retiree(2, name="王建华")
    b = browser(app)
    b.login("c_cl11")

    def search(text: str) -> None:
        b.act(lambda d: d.find_element(By.ID, "ra-search-q"),
              lambda e: (e.clear(), e.send_keys(text, Keys.ENTER)))

    def body() -> str:
        return b.driver.find_element(By.TAG_NAME, "body").text

    b.get("/retiree/list/")
    search("wjg")
    b.wait(lambda d: b.path == f"/retiree/show/{found}", waiting_for="王建国's page")

    search("王建")
    b.wait(lambda d: "当前筛选" in body(), waiting_for="the roster with its filter line")
    assert "姓名" in body() and "王建华" in body() and "王建国" in body()
    b.screenshot("several-found")
    b.click("#ra-clear-filters")
    b.wait(lambda d: "当前筛选" not in body(), waiting_for="the filter line to go")

    # 管理状态 is chosen from its labels, sent as the code, shown as the label.
    b.click("a.accordion-toggle[href='#accordion1_href']")
    b.click("#filter_form .dropdown-toggle")
    b.click('#filter_form a.filter[name="management_state"]')
    b.act(lambda d: d.find_element(By.CSS_SELECTOR, "#filter_form select.filter_val"),
          lambda e: Select(e).select_by_visible_text("单位管理"))
    b.click("#filter_form button[type=submit], #filter_form .btn-primary")
    b.wait(lambda d: "management_state=employer_managed" in d.current_url)
    line = next(t for t in body().split("\n") if t.startswith("当前筛选"))
    assert "管理状态" in line and "单位管理" in line and "employer_managed" not in line
    b.screenshot("coded-filter")
