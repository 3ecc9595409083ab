"""Fuzzing the REST API from its own OpenAPI document (schemathesis), bounded: for every
documented operation, generated requests — valid and invalid — must never answer 500,
and answers should match the documented schema. Failing operations are reported
together."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

MAX_EXAMPLES = 8


@pytest.fixture
def api_app(app_factory):
    return app_factory(FAB_API_SWAGGER_UI=True)


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


@pytest.mark.xfail(reason="FAB 5.3's generated OpenAPI document mis-describes its own "
                          "answers: list ``ids`` typed string, null related objects, 422 "
                          "messages typed string, ``_info`` fields; see docs/SECURITY.md",
                   strict=False)
def test_api_answers_match_the_documented_schema(api_app, auth):
    failures = _fuzz(api_app, auth, [response_schema_conformance])
    assert failures == [], "\n".join(failures)
