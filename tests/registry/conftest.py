"""Fixtures of the registry's import tests."""
from datetime import date

import pytest

COMMUNITY = "320502001001"


@pytest.fixture
def rows(retiree_payload):
    """Import rows for new people: API payloads with codes instead of ids."""

    def make(n: int, **changes) -> dict:
        payload = retiree_payload(n, COMMUNITY)
        return payload | {"employer": "320500001", "community": COMMUNITY,
                          "birth_date": date.fromisoformat(payload["birth_date"]),
                          "retirement_date": date.fromisoformat(payload["retirement_date"])
                          } | changes

    return make


@pytest.fixture
def run_import(app):
    """Import a file into ``app``'s database as user "importer"; returns the result."""
    from core.extensions import db
    from core.registry import exchange

    def run(path, **options):
        with app.app_context():
            result = exchange.import_retirees(db.session, str(path), "importer", **options)
            db.session.remove()
        return result

    return run


@pytest.fixture
def clerk(client_for):
    """The clerk of 东园社区 (c_cl11), who registers and serves the tests' retirees."""
    return client_for("c_cl11")


@pytest.fixture
def create(clerk, retiree_payload):
    """Register a retiree in 东园社区 through the API as its clerk."""

    def make(n: int = 1, **overrides) -> int:
        response = clerk.post("/api/v1/retiree/", json=retiree_payload(n, **overrides))
        assert response.status_code == 201, response.json
        return response.json["id"]

    return make
