"""Issue 7: list pages and API lists count rows only up to a cap (no COUNT(*) over the
whole subtree on every page); beyond it the screen says "超过…" and the pager still works."""
from __future__ import annotations

import pytest

import core.views.base as base


@pytest.fixture
def seven(create_retiree):
    return [create_retiree(n) for n in range(1, 8)]


def test_counts_are_exact_up_to_the_cap(app, client_for, seven, monkeypatch):
    monkeypatch.setattr(base, "COUNT_EXACT_UP_TO", 7)
    admin = client_for("admin")
    assert admin.get("/api/v1/retiree/").json["count"] == 7
    page = admin.get("/retiree/list/").get_data(as_text=True)
    assert "超过" not in page


def test_beyond_the_cap_the_screen_says_more_than_and_pages_still_work(app, client_for, seven,
                                                                      monkeypatch):
    monkeypatch.setattr(base, "COUNT_EXACT_UP_TO", 5)
    admin = client_for("admin")
    answer = admin.get("/api/v1/retiree/?q=(page_size:3,page:2)")
    assert answer.json["count"] == 6            # the cap plus one: "more than 5"
    assert len(answer.json["ids"]) == 1          # the third page of 3 still has the 7th row
    page = admin.get("/retiree/list/?psize_RetireeModelView=3").get_data(as_text=True)
    assert "超过5" in page
    last = admin.get("/retiree/list/?psize_RetireeModelView=3&page_RetireeModelView=2")
    assert last.status_code == 200
    assert f"/retiree/show/{seven[0]}\"" in last.get_data(as_text=True)
