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
