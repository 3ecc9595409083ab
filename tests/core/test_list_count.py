"""Issue 7: list pages and API lists count rows only up to a cap (no COUNT(*) over the
whole subtree on every page); beyond it the screen says "超过…" and the pager still works."""
from __future__ import annotations

import pytest

import core.views.base as base
from core.testing import statements


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
    answer = admin.get("/api/v1/retiree/?q=(page_size:3,page:1)")
    assert answer.json["count"] == 6            # the cap plus one: "more than 5"
    answer = admin.get("/api/v1/retiree/?q=(page_size:3,page:2)")
    assert len(answer.json["ids"]) == 1          # the third page of 3 still has the 7th row
    assert answer.json["count"] == 7             # and, not full, ends the list: exact
    page = admin.get("/retiree/list/?psize_RetireeModelView=3").get_data(as_text=True)
    assert "超过5" in page
    last = admin.get("/retiree/list/?psize_RetireeModelView=3&page_RetireeModelView=2")
    assert last.status_code == 200
    assert f"/retiree/show/{seven[0]}\"" in last.get_data(as_text=True)


def test_a_page_that_is_not_full_is_counted_without_a_count(app, client_for, seven):
    """The rows before a short page plus its own are the count: no COUNT query (a
    selective name search would scan the subtree twice), and the figure is exact."""
    admin = client_for("admin")
    with statements(app) as seen:
        short = admin.get("/api/v1/retiree/?q=(page_size:5,page:1)").json
        name = admin.get("/api/v1/retiree/?q=(filters:!((col:name,opr:ct,value:%E5%BC%A0)))")
        page = admin.get("/retiree/list/?psize_RetireeModelView=5&page_RetireeModelView=1")
    assert (short["count"], len(short["ids"])) == (7, 2)
    assert name.json["count"] == 1
    assert page.status_code == 200
    assert not [s for s in seen if "count(" in s.lower() and "retiree" in s.lower()]
    full = admin.get("/api/v1/retiree/?q=(page_size:5,page:0)").json
    assert (full["count"], len(full["ids"])) == (7, 5)
    past = admin.get("/api/v1/retiree/?q=(page_size:5,page:3)").json
    assert (past["count"], past["ids"]) == (7, [])


def _statements(app, request) -> list[str]:
    with statements(app) as seen:
        assert request().status_code == 200
    return seen


def test_api_list_and_show_read_masked_columns_with_the_row_not_per_person(
        app, client_for, seven):
    """The masked ID number and phone are properties over deferred columns: unless the
    list selects them, each person costs two more queries (an N+1 that made the city's
    API page twice as slow as the screen)."""
    admin = client_for("admin")
    two = _statements(app, lambda: admin.get("/api/v1/retiree/?q=(page_size:2)"))
    seven_rows = _statements(app, lambda: admin.get("/api/v1/retiree/?q=(page_size:7)"))
    assert len(seven_rows) == len(two)
    answer = admin.get("/api/v1/retiree/?q=(page_size:7)").json["result"]
    assert all("*" in row["id_card_masked"] and "*" in row["phone_masked"] for row in answer)
    shown = admin.get(f"/api/v1/retiree/{seven[0]}").json["result"]
    assert "*" in shown["id_card_masked"] and shown["employer"]


def test_list_page_reads_the_shown_references_in_one_query(app, client_for, create_retiree):
    """A list shows each person's community: read for the whole page in one query, not a
    query per community (the scope's criteria make every lazy load a query)."""
    communities = ["320502001001", "320502001002", "320502002001", "320503001001"]
    admin = client_for("admin")
    create_retiree(1, community=communities[0])
    admin.get("/retiree/list/")  # the search form, kept from here on
    few = _statements(app, lambda: admin.get("/retiree/list/"))
    for n, code in enumerate(communities[1:], start=2):
        create_retiree(n, community=code)
    page = admin.get("/retiree/list/").get_data(as_text=True)
    assert all(name in page for name in ("东园社区", "西街社区", "南苑社区", "仓街社区"))
    many = _statements(app, lambda: admin.get("/retiree/list/"))
    assert len(many) == len(few), "\n".join(x[:100] for x in [*few, "---", *many])
