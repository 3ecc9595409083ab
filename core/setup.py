"""Creating and upgrading a database: migrations, roles, the region tree (idempotent)."""
from __future__ import annotations

from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import select

from core.extensions import db
from core.regions import Region
from core.security import ROLES


def init_database() -> dict:
    """Upgrade to every head (core and plugin branches), sync roles and permissions,
    seed the city and its districts. Safe to run again."""
    upgrade(revision="heads")
    appbuilder = current_app.appbuilder
    appbuilder.add_permissions(update_perms=True)
    # Builtin roles (ROLES, FAB_ROLES) are checked from config; the rows exist so that
    # users can hold them. FAB's create_db would store the patterns as permission names.
    for name in [*ROLES, current_app.config["AUTH_ROLE_PUBLIC"]]:
        appbuilder.sm.add_role(name)
    created = seed_regions()
    db.session.commit()
    return {"regions_created": created}


def seed_regions() -> int:
    """A6, F9: the city node and its districts from config (CITY, DISTRICTS)."""
    cfg = current_app.config
    created = 0
    city = db.session.scalar(select(Region).where(Region.code == cfg["CITY"]["code"]))
    if city is None:
        city = Region(code=cfg["CITY"]["code"], name=cfg["CITY"]["name"], level="city")
        db.session.add(city)
        created += 1
    for d in cfg["DISTRICTS"]:
        if db.session.scalar(select(Region).where(Region.code == d["code"])) is None:
            region = Region(code=d["code"], name=d["name"], level="district", parent=city)
            region.check_hierarchy()
            db.session.add(region)
            created += 1
    db.session.flush()
    return created
