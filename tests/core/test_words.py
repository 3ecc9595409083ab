"""Issue 14 items 4, 5, 8, 22: values, words and the site icon on screen (the browser
crawler, tests/browser/test_crawler.py, walks every screen; these pin the pieces)."""
from __future__ import annotations

import re
from datetime import date, datetime

from core.views.base import display_value


def test_item4_display_value_prints_values_for_clerks():
    assert display_value(None) == "—"
    assert display_value("") == "—"
    assert display_value(True) == "是" and display_value(False) == "否"
    assert display_value(datetime(2026, 12, 7, 19, 53, 4, 123456)) == "2026-12-07 19:53"
    assert display_value(date(2026, 12, 7)) == date(2026, 12, 7)
    assert display_value("employer_managed") == "单位管理"
    assert display_value("active") == "正常"
    assert display_value("苏州第一纺织厂") == "苏州第一纺织厂"
    assert display_value(0) == 0


def test_item4_enterprise_page_has_no_python_values(client_for):
    page = client_for("city").get("/enterprisemodelview/show/1").get_data(as_text=True)
    assert ">None<" not in page and ">False<" not in page and ">active<" not in page
    assert "正常" in page


def test_item5_titles_roles_and_language_switch(client_for):
    city = client_for("city")
    home = city.get("/").get_data(as_text=True)
    assert "city_admin" not in home and "市退管中心管理员" in home
    assert "English" not in home and "/lang/en" not in home  # SHOW_LANGUAGE_SWITCH off
    add = city.get("/regionmodelview/add").get_data(as_text=True)
    assert "Add Region" not in add and "新增区域" in add


def test_item5_language_switch_when_configured(app_factory, client_for):
    app = app_factory(SHOW_LANGUAGE_SWITCH=True)
    assert "/lang/en" in client_for("city", app).get("/").get_data(as_text=True)


def test_item8_no_rule_id_on_the_registration_form(client_for):
    page = client_for("c_cl11").get("/retiree/add").get_data(as_text=True)
    assert not re.search(r"[（(][FAPSH]\d+", page)


def test_item22_favicon(client_for, app):
    answer = app.test_client().get("/favicon.ico")
    assert answer.status_code == 200 and answer.data[:4] == b"\x00\x00\x01\x00"
    assert 'rel="icon"' in client_for("city").get("/").get_data(as_text=True)
