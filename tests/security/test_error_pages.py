"""Issue 12 item 17: every error page is Chinese — inside the app's layout, with its
reason and a way back — and the API's errors stay Chinese JSON."""
from __future__ import annotations

import re

from tests.security.conftest import form_login

ENGLISH = re.compile(r"Not Found|Forbidden|Bad Request|Method Not Allowed|CSRF token|"
                     r"Internal Server Error|requested URL")


def _page(response) -> str:
    text = response.get_data(as_text=True)
    assert response.content_type.startswith("text/html"), response.content_type
    assert not ENGLISH.search(text), ENGLISH.search(text).group(0)
    assert "返回首页" in text
    return text


def test_404_page_is_chinese_inside_the_layout(secure_app, login_as):
    client = login_as("c_cl11")
    response = client.get("/retiree/show/999999",
                          headers={"Referer": "http://localhost/retiree/list/"})
    assert response.status_code == 404
    text = _page(response)
    assert "记录不存在或已迁出本辖区" in text
    assert 'href="/retiree/list/"' in text  # the way back to where the clerk came from
    assert "navbar" in text  # the app's own layout, menus and all
    assert _page(client.get("/no-such-page/")).count("记录不存在") == 1


def test_a_refusal_shows_its_own_chinese_reason(secure_app, login_as):
    response = login_as("sup").get("/retiree/correct/1")
    assert response.status_code in (403, 404)
    _page(response)


def test_405_and_a_foreign_referrer_get_no_link_off_site(secure_app, login_as):
    client = login_as("c_cl11")
    response = client.put("/retiree/list/", headers={"Referer": "https://evil.example/x"})
    assert response.status_code == 405
    assert response.headers.get("Allow")
    text = _page(response)
    assert "evil.example" not in text and "不支持这种访问方式" in text


def test_expired_csrf_token_is_a_chinese_page(secure_app):
    client = secure_app.test_client()
    response = client.post("/login/", data={"username": "c_cl11", "password": "x"})
    assert response.status_code == 400
    assert "页面已过期" in _page(response)
    assert form_login(client, "c_cl11").status_code == 302  # and a fresh form works


def test_api_errors_stay_chinese_json(secure_app):
    response = secure_app.test_client().get("/api/v1/no-such-api/")
    assert response.status_code == 404
    assert response.get_json() == {"message": "未找到该资源"}
