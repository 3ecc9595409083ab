"""The migrations build exactly the schema the models describe, from an empty database,
on SQLite and on PostgreSQL; ``init`` can run again; the chain goes down and up again.

Tables named ``test_*`` belong to test plugins and test modules (they have no core
migration) and are left out of the comparison.
"""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text

from core.testing import PG_URL

# PostgreSQL joins when the run is configured for it (CI's second pass), so no run skips.
BACKENDS = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.postgres)]
                         if PG_URL else [])


def _include(obj, name, type_, reflected, compare_to) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", None) or name or ""
    return not table_name.startswith("test_")


def schema_differences(app) -> list:
    from core.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include})
        return compare_metadata(context, db.metadata)


def init(app):
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_init_on_empty_database_builds_the_models_schema(empty_app):
    from core.extensions import db

    with empty_app.app_context():
        assert inspect(db.engine).get_table_names() == []
    assert "新增区域 9 个" in init(empty_app)
    assert schema_differences(empty_app) == []


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_init_is_idempotent(empty_app):
    from flask_appbuilder.security.sqla.models import Role

    from core.extensions import db
    from core.regions import Region
    from core.security import ROLES

    init(empty_app)
    with empty_app.app_context():
        regions = db.session.scalar(select(func.count(Region.id)))
        versions = set(db.session.scalars(text("select version_num from alembic_version")))
    assert "新增区域 0 个" in init(empty_app)
    with empty_app.app_context():
        assert db.session.scalar(select(func.count(Region.id))) == regions
        assert set(db.session.scalars(text("select version_num from alembic_version"))) == versions
        roles = set(db.session.scalars(select(Role.name)))
    assert roles >= {*ROLES, "Public"}
    assert schema_differences(empty_app) == []


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_downgrade_to_base_then_upgrade_again(empty_app):
    """``retiree-admin db downgrade base`` removes every table of every branch (core and
    plugins); upgrading to the heads rebuilds the same schema."""
    from core.extensions import db

    init(empty_app)
    with empty_app.app_context():
        downgrade(revision="base")
        db.session.remove()
        left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert not {t for t in left if not t.startswith("test_")}
        assert db.session.scalar(text("select count(*) from alembic_version")) == 0
        upgrade(revision="heads")
    assert schema_differences(empty_app) == []


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
def test_cli_db_commands_are_available(empty_app):
    """The Alembic commands are reachable under ``retiree-admin db``."""
    result = empty_app.test_cli_runner().invoke(args=["db", "--help"])
    assert result.exit_code == 0
    for command in ("upgrade", "downgrade", "heads", "current"):
        assert command in result.output

