"""Yes/no list and API filters take the usual spellings and refuse anything else with a
Chinese 400, on SQLite and PostgreSQL alike (FAB compares the column with the raw text)."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import update


@pytest.fixture
def two_retirees(app, create_retiree):
    from core.extensions import db
    from core.registry.models import Retiree

    complete, incomplete = create_retiree(1), create_retiree(2)
    with app.app_context():
        db.session.execute(update(Retiree).where(Retiree.id == incomplete)
                           .values(form_complete=False).execution_options(unscoped=True))
        db.session.execute(update(Retiree).where(Retiree.id == complete)
                           .values(form_complete=True).execution_options(unscoped=True))
        db.session.commit()
    return complete, incomplete


@pytest.mark.parametrize("spelling, expected", [("y", "complete"), ("1", "complete"),
                                                ("n", "incomplete"), ("false", "incomplete")])
def test_F2_yes_no_filter_spellings_on_the_list_and_the_api(app, client_for, two_retirees,
                                                            spelling, expected):
    complete, incomplete = two_retirees
    want = {"complete": complete, "incomplete": incomplete}[expected]
    admin = client_for("admin")
    page = admin.get(f"/retiree/list/?_flt_0_form_complete={spelling}")
    assert page.status_code == 200
    assert f"/retiree/show/{want}" in page.get_data(as_text=True)
    other = complete if want == incomplete else incomplete
    assert f"/retiree/show/{other}\"" not in page.get_data(as_text=True)
    rison = f"(filters:!((col:form_complete,opr:eq,value:{spelling})))"
    answer = admin.get(f"/api/v1/retiree/?q={rison}")
    assert answer.status_code == 200, answer.json
    assert answer.json["ids"] == [want]


def test_F2_yes_no_filter_with_garbage_is_refused_in_chinese(app, client_for, two_retirees):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    admin = client_for("admin")
    page = admin.get("/retiree/list/?_flt_0_form_complete=abc")
    assert page.status_code == 302 and page.location.endswith("/retiree/list/")
    assert "不是是/否值" in admin.get(page.location).get_data(as_text=True)
    q = json.dumps({"filters": [{"col": "form_complete", "opr": "eq", "value": "abc"}]})
    answer = admin.get("/api/v1/retiree/", query_string={"q": q})
    assert answer.status_code == 400
    assert "不是是/否值" in answer.json["message"]
    wrong_opr = json.dumps({"filters": [{"col": "form_complete", "opr": "sw", "value": "y"}]})
    assert admin.get("/api/v1/retiree/", query_string={"q": wrong_opr}).status_code == 400


@pytest.mark.parametrize("col, opr, value", [
    ("name", "eq", 99999999999999999999),    # a number no driver binds: taken as text
    ("name", "eq", 12345),                    # integer against text (PostgreSQL refuses)
    ("name", "eq", ["a", "b"]),
    ("community", "rel_o_m", "abc"),
    ("community", "rel_o_m", 2**40),
    ("form_complete", "eq", {"x": 1}),
])
def test_api_filter_values_of_the_wrong_type_are_refused_not_500(app, client_for, col, opr,
                                                                 value):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    q = json.dumps({"filters": [{"col": col, "opr": opr, "value": value}]})
    answer = client_for("admin").get("/api/v1/retiree/", query_string={"q": q})
    if col == "name" and isinstance(value, int):  # a number is taken as its text
        assert answer.status_code == 200 and answer.json["count"] == 0
    else:
        assert answer.status_code == 400, answer.json
        assert re.search("筛选条件无效|查询参数q", answer.json["message"])


def test_duplicate_unique_value_through_the_api_is_422_on_the_field(app, client_for):
    """The database's unique key refuses what no rule checked first: 422 naming the field,
    nothing written (FAB re-raises the IntegrityError as a 500)."""
    from sqlalchemy import func, select

    from core.extensions import db
    from core.registry.models import Enterprise

    admin = client_for("admin")
    body = {"unit_no": "320500077", "name": "苏州电子厂", "status": "active"}
    assert admin.post("/api/v1/enterprise/", json=body).status_code == 201
    again = admin.post("/api/v1/enterprise/", json=body | {"name": "另一家厂"})
    assert again.status_code == 422, again.json
    assert "已被其他记录使用" in again.json["message"]["unit_no"][0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enterprise)
                                 .where(Enterprise.unit_no == "320500077")) == 1


@pytest.mark.parametrize("q", ["1e+5", "(page:1e+5)", "!(1e+)"])
def test_q_that_breaks_the_rison_parser_is_400_not_500(app, client_for, q):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = client_for("admin").get("/api/v1/retiree/", query_string={"q": q})
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert "查询参数q" in answer.json["message"]


def test_q_against_its_schema_is_400_and_the_schema_is_checked_once(app, client_for,
                                                                   monkeypatch):
    """core.views.rison: a ``q`` outside the list schema is still refused (400, Chinese),
    and the metaschema check of the schema runs once, not on every request."""
    from jsonschema.validators import validator_for

    checks = []
    cls = validator_for({})
    original = cls.check_schema.__func__
    monkeypatch.setattr(cls, "check_schema",
                        classmethod(lambda c, s, **kw: checks.append(1) or original(c, s, **kw)))
    admin = client_for("admin")
    for q in ("(page_size:abc)", "(filters:abc)", "(order_direction:sideways)"):
        answer = admin.get("/api/v1/retiree/", query_string={"q": q})
        assert answer.status_code == 400, (q, answer.json)
        assert "查询参数q的结构不符合要求" in answer.json["message"]
    for _ in range(3):
        assert admin.get("/api/v1/retiree/?q=(page_size:5)").status_code == 200
    assert len(checks) <= 1


def _views(app, *names):
    found = {type(v).__name__: v for v in app.appbuilder.baseviews}
    return [found[name] for name in names]


def test_requests_never_share_active_filters(app, client_for, two_retirees):
    """FAB keeps a view's active filters on the view, one object for all the requests a
    process serves: two threads of a gunicorn worker would clear and fill the same list.
    Each request now has its own, and a filtered request leaves the view's untouched."""
    import threading

    complete, incomplete = two_retirees
    screen, api = _views(app, "RetireeModelView", "RetireeApi")
    admin = client_for("admin")
    page = admin.get("/retiree/list/?_flt_0_form_complete=y").get_data(as_text=True)
    assert f"/retiree/show/{complete}" in page
    answer = admin.get("/api/v1/retiree/?q=(filters:!((col:form_complete,opr:eq,value:n)))")
    assert [row["id"] for row in answer.json["result"]] == [incomplete]
    for view in (screen, api):
        assert view.__dict__["_shared_filters"].filters == []

    with app.test_request_context("/retiree/list/"):
        mine = screen._filters
        assert mine is screen._filters and mine is not screen.__dict__["_shared_filters"]
        theirs = []

        def other_request():
            with app.test_request_context("/retiree/list/"):
                theirs.append(screen._filters)

        thread = threading.Thread(target=other_request)
        thread.start()
        thread.join()
        assert theirs and theirs[0] is not mine
        assert mine.get_search_filters() is theirs[0].get_search_filters()
