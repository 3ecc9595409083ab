"""Fuzzing the REST API from its own OpenAPI document (schemathesis), bounded: for every
documented operation, generated requests — valid and invalid — must never answer 500,
and answers must match the documented schema (core.views.openapi corrects FAB's). Every
plugin is switched on, so that the plugins' APIs answer rather than refuse with 403.
Failing operations are reported together."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

MAX_EXAMPLES = 8


@pytest.fixture
def api_app(app_factory):
    app = app_factory(FAB_API_SWAGGER_UI=True)
    from core.extensions import db
    from core.regions import region_by_code

    with app.app_context():
        plugins = app.extensions["retiree_admin.plugins"]
        for name, loaded in plugins.plugins.items():
            for code in loaded.info.regions or ("320500",):  # its districts, or the city
                plugins.set_enabled(db.session, name, region_by_code(db.session, code), True,
                                    "test")
    return app


@pytest.fixture
def auth(api_app):
    token = api_app.test_client().post("/api/v1/security/login", json={
        "username": "admin", "password": "Test@2024pw", "provider": "db"}).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _fuzz(app, auth, checks) -> list[str]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any("/retiree/" in op.path for op in operations)
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=auth, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect all, then report
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            failures.append(f"{operation.label}: {' | '.join(lines[:4])}")
    return failures


def test_api_never_answers_500(api_app, auth):
    failures = _fuzz(api_app, auth, [not_a_server_error])
    assert failures == [], "\n".join(failures)


def test_api_answers_match_the_documented_schema(api_app, auth):
    failures = _fuzz(api_app, auth, [response_schema_conformance])
    assert failures == [], "\n".join(failures)


def test_api_refusals_are_json_messages_as_documented(api_app, auth):
    """The answers changed to match the document rather than the other way round."""
    client = api_app.test_client()
    no_token = client.get("/api/v1/retiree/")
    bad_token = client.get("/api/v1/retiree/", headers={"Authorization": "Bearer x"})
    guarded = client.put("/api/v1/retiree/abc", json={}, headers=auth)
    for answer, status in ((no_token, 401), (bad_token, 422), (guarded, 404)):
        assert answer.status_code == status and answer.is_json
        assert set(answer.json) == {"message"}, answer.json
    for q in ("(page:-1)", "(page:4611686018427387904)"):
        answer = client.get("/api/v1/retiree/", query_string={"q": q}, headers=auth)
        assert answer.status_code == 400 and "页码" in answer.json["message"]
    info = client.get("/api/v1/enterprise/_info", headers=auth).json
    assert not [c for c in info["add_columns"] if "Project-Id-Version" in c["description"]]


# --- the screens: list and export filters, list actions (issue #12 item 17) -----------

UNKNOWN_ACTION = "no_such_action"
NOT_IDS = ("abc", "1.5", "99999999999", "", "１")


@pytest.fixture
def screens(api_app):
    """Every list screen with the client of a user who may open it (FAB's user and role
    screens: the security administrator; the trail: the audit administrator; the rest,
    core's and plugins': the system administrator)."""
    from flask_appbuilder.baseviews import BaseCRUDView

    from core.commands import create_user
    from core.testing import PASSWORD

    with api_app.app_context():
        create_user("fz_sec", PASSWORD, "security_admin", "320500", temporary=False)
        create_user("fz_aud", PASSWORD, "audit_admin", "320500", temporary=False)
    clients = []
    for username in ("admin", "fz_sec", "fz_aud"):
        client = api_app.test_client()
        client.post("/login/", data={"username": username, "password": PASSWORD})
        clients.append(client)
    out = []
    for view in api_app.appbuilder.baseviews:
        if isinstance(view, BaseCRUDView) and f"{view.endpoint}.list" in api_app.view_functions:
            allowed = [c for c in clients if c.get(f"{view.route_base}/list/").status_code == 200]
            out.append((view, allowed[0] if allowed else clients[0]))
    return out


def _answer(client, method: str, url: str, **kwargs):
    """The status, or the exception a 500 would have been (TESTING propagates it)."""
    try:
        return client.open(url, method=method, **kwargs).status_code
    except Exception as exc:  # collect all, then report
        return f"500 ({type(exc).__name__})"


def test_list_and_export_never_answer_500_for_bad_filter_indexes_or_relation_ids(
        api_app, screens):
    """``_flt_<n>_<col>`` past the column's offered filters, and a relation filter whose
    value is no row id, on the list and the export of every list screen: refused (302
    back to the list, with a message), never 500."""
    routes = {rule.rule for rule in api_app.url_map.iter_rules()}
    covered, failures = set(), []
    for view, client in screens:
        pages = [p for p in ("/list/", "/export/") if view.route_base + p in routes]
        for column, offered in view._filters._all_filters.items():
            # FAB reads one digit: _flt_10_x is no filter at all.
            args = [f"_flt_{n}_{column}=1" for n in {len(offered), 9} if len(offered) <= n <= 9]
            args += [f"_flt_{n}_{column}={value}" for n, flt in enumerate(offered)
                     if type(flt).__name__.startswith("FilterRelation") for value in NOT_IDS]
            for page in pages:
                for arg in args:
                    url = f"{view.route_base}{page}?{arg}"
                    status = _answer(client, "GET", url)
                    covered.add(view.route_base + page)
                    if status != 302:  # refused, back to the list
                        failures.append(f"{url} -> {status}")
    assert failures == [], "\n".join(failures)
    assert {"/retiree/list/", "/retiree/export/", "/audit/export/", "/users/list/",
            "/fees/dues/list/", "/park-resident/list/"} <= covered


def test_a_refused_filter_is_explained_in_chinese_over_the_unfiltered_list(api_app, screens):
    """Refused on the export too, back on the list: not an export of the whole scope."""
    client = dict((v.route_base, c) for v, c in screens)["/retiree"]
    for url, message in (("/retiree/list/?_flt_9_community=1", "没有第9种筛选方式"),
                         ("/retiree/export/?_flt_0_community=abc", "不是有效的整数编号")):
        refused = client.get(url)
        assert refused.status_code == 302 and refused.location.endswith("/retiree/list/")
        assert message in client.get(refused.location).get_data(as_text=True)


def test_unknown_list_actions_answer_login_or_400_never_500(api_app, screens):
    """``/action_post`` and ``/action/<name>/<pk>`` naming no action of the view, with
    and without a row id: anonymous → the login page; logged in → 400 (404 for the URL
    path), with a Chinese message."""
    anonymous = api_app.test_client()
    failures = []
    for view, client in screens:
        base = view.route_base
        for form in ({"action": UNKNOWN_ACTION, "rowid": "1"}, {"action": UNKNOWN_ACTION}, {}):
            answer = anonymous.post(f"{base}/action_post", data=form)
            if answer.status_code != 302 or "/login/" not in answer.location:
                failures.append(f"anonymous POST {base}/action_post {form} -> "
                                f"{answer.status_code}")
            status = _answer(client, "POST", f"{base}/action_post", data=form)
            if status != 400:
                failures.append(f"POST {base}/action_post {form} -> {status}")
        answer = anonymous.get(f"{base}/action/{UNKNOWN_ACTION}/1")
        if answer.status_code != 302 or "/login/" not in answer.location:
            failures.append(f"anonymous GET {base}/action/… -> {answer.status_code}")
        status = _answer(client, "GET", f"{base}/action/{UNKNOWN_ACTION}/1")
        if status != 404:
            failures.append(f"GET {base}/action/… -> {status}")
    assert failures == [], "\n".join(failures)
    answer = dict((v.route_base, c) for v, c in screens)["/roles"].post(
        "/roles/action_post", data={"action": UNKNOWN_ACTION, "rowid": "1"})
    assert "未知的批量操作" in answer.get_data(as_text=True)
