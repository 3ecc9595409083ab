"""Fixtures of the core tests: an empty database (no migrations run)."""
from __future__ import annotations

import itertools
import os

import pytest
from sqlalchemy import text

from core.testing import PG_URL, _pg_admin_engine

_names = itertools.count()


@pytest.fixture
def empty_database(request, tmp_path):
    """The URL of an empty database, dropped afterwards: of the suite's backend, or of the
    kind given by indirect parametrisation ("sqlite", "postgresql")."""
    kind = getattr(request, "param", "postgresql" if PG_URL else "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin, url = _pg_admin_engine()
    name = f"ra_empty_{os.getpid()}_{next(_names)}"
    with admin.connect() as con:
        con.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as con:
        con.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_app(empty_database):
    """An app on an empty database (``retiree-admin init`` not yet run)."""
    from core.app import create_app
    from core.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
