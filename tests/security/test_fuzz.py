"""Fuzzing the REST API from its own OpenAPI document (schemathesis), bounded: for every
documented operation, generated requests — valid and invalid — must never answer 500
and every answer must match the documented schema. All failing operations are
reported together."""
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


def test_api_answers_within_its_schema_and_never_500(api_app, auth):
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", api_app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any("/retiree/" in op.path for op in operations)
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=auth,
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as exc:  # collect every failing operation, then report
            failures.append(f"{operation.label}: {str(exc).strip().splitlines()[0:6]}")
    assert failures == [], "\n".join(failures)
