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
