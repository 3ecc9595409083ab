"""The registry's main screens and the plugin manager's switch in a real browser: list,
filter, add (a validation error shown in Chinese, then saved), edit; a district
administrator enables 吴中区、相城区并轨 and its menu appears, disables it and the menu
vanishes."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.registry.fields import IN_REGISTER
from tests.dashboard.data import seed_retirees

CHECKSUM_ERROR = "身份证号校验位不符"


@pytest.fixture
def seeded(app):
    seed_retirees(app, n=40)
    return app


def set_select(b, field: str, value: str) -> None:
    """Choose an option of a select that Select2 has replaced, as the widget does."""
    b.js("jQuery(arguments[0]).val(arguments[1]).trigger('change');", f"#{field}", value)


def fill_new_retiree(b, id_card_no: str, birth: date, community: int) -> None:
    """Open the add form, fill every required field (Select2 fields as the widget does)
    and submit."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    b.get("/retiree/add")
    fields = {"name": "浏览器测试", "birth_date": birth.isoformat(), "id_card_no": id_card_no,
              "personal_no": "88776655", "retirement_date": "2016-03-01",
              "phone": "13812345678", "hukou_address": "苏州市沧浪区十全街1号",
              "residence_address": "苏州市沧浪区十全街1号"}
    name = b.driver.find_element(By.ID, "name")
    name.clear()
    name.send_keys(fields.pop("name"), Keys.ESCAPE)  # typed; the rest set as a paste would
    b.js("for (const [k, v] of Object.entries(arguments[0])) {"
         " const e = document.getElementById(k); e.value = v;"
         " e.dispatchEvent(new Event('change', {bubbles: true})); }", fields)
    for name, choice in (("gender", "male"), ("retirement_type", "retired"),
                         ("benefit", "basic_pension"), ("category", "enterprise"),
                         ("residence_type", "local"), ("family_status", "none"),
                         ("serious_illness", "none"), ("community", str(community))):
        set_select(b, name, choice)
    # The employer box holds no list: type, wait for the server's matches, pick one.
    b.choose_lookup("employer", "纺织", "苏州第一纺织厂（320500001）")
    b.click("#model_form button[type=submit]")


def record_count(b) -> int:
    import re

    from selenium.webdriver.common.by import By

    text = b.driver.find_element(By.TAG_NAME, "body").text
    found = re.search(r"记录数目?[:：]\s*(\d+)", text)
    return int(found.group(1)) if found else 0


def test_registry_list_filter_add_and_edit(seeded, browser):
    from selenium.webdriver.common.by import By

    from core.demo import make_id_card_no
    from core.extensions import db
    from core.regions import region_by_code
    from core.registry.models import Retiree

    with seeded.app_context():
        # The roster lists the registered people: not the deceased or removed.
        people = db.session.execute(select(Retiree.name).where(
            Retiree.region_path.startswith("/320500/320502/320502001/320502001001/"),
            Retiree.management_state.in_(IN_REGISTER))).scalars().all()
        community = region_by_code(db.session, "320502001001").id
    b = browser(seeded)
    b.login("c_cl11")

    # List: the clerk's own community only.
    b.get("/retiree/list/")
    assert record_count(b) == len(people) > 0
    b.screenshot("list")

    # Filter through the search widget: 姓名 starts with the first person's surname.
    surname = people[0][0]
    b.click("a.accordion-toggle[href='#accordion1_href']")
    b.click("#filter_form .dropdown-toggle")
    b.click('#filter_form a.filter[name="name"]')
    b.act(lambda d: d.find_element(By.CSS_SELECTOR, "#filter_form .filter_val"),
          lambda e: e.send_keys(surname))
    b.click("#filter_form button[type=submit], #filter_form .btn-primary")
    b.wait(lambda d: "_flt_" in d.current_url)
    assert record_count(b) == sum(1 for n in people if n.startswith(surname))
    b.screenshot("filtered")

    # Typing an 18-digit ID number fills 出生日期 and 性别 (issue 14 item 10).
    b.get("/retiree/add")
    typed = make_id_card_no("320502", date(1957, 8, 19), 8, "female")
    b.driver.find_element(By.ID, "id_card_no").send_keys(typed)
    b.wait(lambda d: d.find_element(By.ID, "birth_date").get_attribute("value") == "1957-08-19")
    assert b.js("return jQuery('#gender').val();") == "female"
    b.screenshot("id-filled")

    # Add with a wrong check digit: refused with the Chinese message, then saved.
    birth = date(1956, 3, 1)
    good = make_id_card_no("320502", birth, 7, "male")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    fill_new_retiree(b, bad, birth, community)
    b.wait(lambda d: CHECKSUM_ERROR in d.find_element(By.TAG_NAME, "body").text)
    b.screenshot("add-refused")
    fill_new_retiree(b, good, birth, community)
    b.wait(lambda d: "/retiree/add" not in d.current_url)
    with seeded.app_context():
        pk = db.session.scalar(select(Retiree.id).where(Retiree.personal_no == "88776655"))
    assert pk is not None

    # Edit: the address changes through the form; the phone, masked and read-only there,
    # through its own correction step with a reason (issue #12); the show page says so.
    b.get(f"/retiree/edit/{pk}")
    assert b.driver.find_element(By.ID, "phone").get_attribute("value") != "13900001111"
    address = b.driver.find_element(By.ID, "residence_address")
    address.clear()
    address.send_keys("苏州市沧浪区十全街9号")
    b.click("#model_form button[type=submit]")
    b.wait(lambda d: "/retiree/edit" not in d.current_url)
    b.get(f"/retiree/correct/{pk}")
    b.driver.find_element(By.ID, "phone").send_keys("13900001111")
    b.driver.find_element(By.ID, "reason").send_keys("本人更换手机号码")
    b.click("form.form-horizontal button[type=submit]")
    b.wait(lambda d: "/retiree/correct" not in d.current_url)
    with seeded.app_context():
        person = db.session.get(Retiree, pk)
        assert (person.residence_address, person.phone) == ("苏州市沧浪区十全街9号",
                                                            "13900001111")
    b.get(f"/retiree/show/{pk}")
    assert "139****1111" in b.driver.find_element(By.TAG_NAME, "body").text
    b.screenshot("edited")
    b.check_clean()


def test_plugin_switch_shows_and_hides_its_menu(app, browser):
    from selenium.webdriver.common.by import By

    b = browser(app)
    b.login("d_wz")
    b.get("/plugins/")
    assert "并轨管理" not in b.menu_text()
    b.click('[name="switch-wuzhong_xiangcheng-320506"]')
    b.wait(lambda d: "并轨管理" in d.find_element(By.CSS_SELECTOR, ".navbar").text)
    row = b.driver.find_element(By.CSS_SELECTOR, 'tr[data-plugin="wuzhong_xiangcheng"]').text
    assert "已启用" in row
    b.screenshot("enabled")
    b.click('[name="switch-wuzhong_xiangcheng-320506"]')
    b.wait(lambda d: "并轨管理" not in d.find_element(By.CSS_SELECTOR, ".navbar").text)
    assert "未启用" in b.driver.find_element(
        By.CSS_SELECTOR, 'tr[data-plugin="wuzhong_xiangcheng"]').text
    b.screenshot("disabled")
    b.check_clean()
