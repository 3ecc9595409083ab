"""Fixtures of the Industrial Park tests: the plugin switched on for the Park, the Park's
users, a Park unit, and helpers to sign a version."""
from __future__ import annotations

import pytest

from core.testing import PASSWORD

PARK = "320571"
PARK_COMMUNITY = "320571001001"
# username: (role, region code)
PARK_USERS = {"d_yq": ("district_admin", PARK), "s_yq": ("street_staff", "320571001"),
              "c_yq": ("community_staff", PARK_COMMUNITY)}


@pytest.fixture
def enable(app):
    def switch(on: bool = True, code: str = PARK, plugin: str = "industrial_park"):
        from core.extensions import db
        from core.regions import region_by_code

        with app.app_context():
            app.extensions["retiree_admin.plugins"].set_enabled(
                db.session, plugin, region_by_code(db.session, code), on, "test")
    return switch


@pytest.fixture
def park(app, enable):
    """The plugin on for the Park, with the Park's staff."""
    from core.commands import create_user

    enable()
    # Test users log in with the shared password, without the first-login change.
    app.config["PASSWORD_CHANGE_AT_FIRST_LOGIN"] = False
    with app.app_context():
        for username, (role, code) in PARK_USERS.items():
            create_user(username, PASSWORD, role, code, name=username)


@pytest.fixture
def make_enterprise(app):
    def make(unit_no: str = "320571001", name: str = "园区星海电子有限公司",
             district: str | None = PARK, successor: int | None = None,
             status: str = "active") -> int:
        from core.extensions import db
        from core.regions import region_by_code
        from core.registry.models import Enterprise

        with app.app_context():
            e = Enterprise(unit_no=unit_no, name=name, status=status, successor_id=successor,
                           district=region_by_code(db.session, district) if district else None)
            db.session.add(e)
            db.session.commit()
            return e.id
    return make


@pytest.fixture
def new_agreement(park, make_enterprise, client_for):
    """A Park unit's agreement, created by the Park's centre: (client, agreement id,
    first version id)."""
    def make(unit_no: str = "320571001", no: str = "YQ-2025-001", **enterprise):
        client = client_for("d_yq")
        eid = make_enterprise(unit_no, **enterprise)
        created = client.post("/api/v1/park_agreement/", json={"enterprise": eid,
                                                               "agreement_no": no})
        assert created.status_code == 201, created.json
        pk = created.json["id"]
        version = client.get(f"/api/v1/park_agreement/{pk}").json["result"]["versions"][0]["id"]
        return client, pk, version
    return make
