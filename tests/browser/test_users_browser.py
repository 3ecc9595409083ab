"""The user screens in a real browser (issue #14): the security administrator's add
and edit forms show Chinese only, Select2's own texts included ("Remove all items",
FAB's "Select a State" placeholder)."""
from __future__ import annotations

ENGLISH = ("First Name", "Last Name", "User Name", "Email", "Role", "Password",
           "Select a State", "Remove all items", "community_staff", "security_admin")


def test_user_forms_and_select2_boxes_are_chinese(app, browser):
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    from core.commands import create_user
    from core.extensions import db
    from core.security import RegionUser
    from tests.browser.conftest import PASSWORD

    with app.app_context():
        create_user("sec_browser", PASSWORD, "security_admin", "320500", name="安全员",
                    temporary=False)
        clerk = db.session.scalar(select(RegionUser.id).where(RegionUser.username == "c_cl11"))
    b = browser(app)
    b.login("sec_browser")
    b.get(f"/users/edit/{clerk}")
    box = b.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#roles + .select2"))
    clear = box.find_element(By.CSS_SELECTOR, ".select2-selection__clear")
    assert clear.get_attribute("title") == "删除所有项目"
    text = b.driver.find_element(By.TAG_NAME, "body").text
    assert "社区工作人员" in text and "登录名" in text and "姓名" in text
    b.screenshot("edit")
    b.get("/users/add")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#roles + .select2"))
    text = b.driver.find_element(By.TAG_NAME, "body").text
    placeholders = b.js("return Array.from(document.querySelectorAll("
                        "'.select2-selection__placeholder, .select2-search__field'))"
                        ".map(e => e.textContent + (e.placeholder || ''))")
    assert "请选择" in "".join(placeholders)
    for english in ENGLISH:
        assert english not in text, english
    assert "电子邮箱（选填）" in text
    b.screenshot("add")
    b.check_clean()
