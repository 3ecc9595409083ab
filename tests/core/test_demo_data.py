"""Issue #14 item 23: demo data a Suzhou clerk would believe. Built with the real
``retiree-admin init`` and ``demo`` commands on an empty database, then read back:
every street under its own district (a real district→street table), distinct community
names, Suzhou addresses for local residents, given names matching the sex (and the ID
number's sex digit), former state enterprises with their successors, one enterprise
registered in the Park, and the same data for the same seed."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.demo import (
    DISTRICT_STREETS,
    FEMALE_GIVEN,
    MALE_GIVEN,
    STATE_ENTERPRISES,
    SURNAMES,
)

# Real district→street pairs of Suzhou (沧浪、平江、金阊 as before their 2012 merger).
REAL_STREETS = {
    "沧浪区": {"双塔街道", "南门街道", "胥江街道", "吴门桥街道", "葑门街道", "友新街道"},
    "平江区": {"观前街道", "平江街道", "苏锦街道", "娄门街道", "桃花坞街道", "城北街道"},
    "金阊区": {"石路街道", "彩香街道", "留园街道", "虎丘街道", "白洋湾街道"},
    "虎丘区": {"狮山街道", "枫桥街道", "横塘街道"},
    "高新区": {"浒墅关街道", "通安街道", "东渚街道", "镇湖街道"},
    "吴中区": {"长桥街道", "越溪街道", "郭巷街道", "横泾街道", "城南街道", "香山街道"},
    "相城区": {"元和街道", "太平街道", "黄桥街道", "北桥街道", "澄阳街道"},
    "工业园区": {"娄葑街道", "斜塘街道", "唯亭街道", "胜浦街道"},
}


@pytest.fixture
def demo(empty_app):
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    result = runner.invoke(args=["demo", "--retirees", "400", "--seed", "5"])
    assert result.exit_code == 0, result.output
    return empty_app


def _snapshot(app):
    from core.extensions import db
    from core.regions import Region
    from core.registry.models import Enterprise, Retiree
    from core.scoping import unscoped

    with app.app_context(), unscoped():
        regions = db.session.execute(select(Region)).scalars().all()
        by_id = {r.id: r for r in regions}
        people = db.session.execute(select(
            Retiree.name, Retiree.gender, Retiree.id_card_no, Retiree.community_id,
            Retiree.residence_address, Retiree.hukou_address, Retiree.residence_type)
            .order_by(Retiree.id)).all()
        enterprises = db.session.execute(select(Enterprise).order_by(Enterprise.id)).scalars()
        units = [(e.name, e.status, e.successor.name if e.successor else None,
                  e.district.name if e.district_id else None) for e in enterprises]
        tree = [(r.code, r.name, r.level, by_id[r.parent_id].name if r.parent_id else None)
                for r in sorted(regions, key=lambda r: r.code)]
        communities = {r.id: (r, by_id[r.parent_id], by_id[by_id[r.parent_id].parent_id])
                       for r in regions if r.level == "community"}
        flat = {cid: (c.name, s.name, d.name) for cid, (c, s, d) in communities.items()}
    return tree, flat, people, units


def test_demo_streets_belong_to_their_district_and_communities_are_distinct(demo):
    tree, communities, _, _ = _snapshot(demo)
    streets = [(name, parent) for _, name, level, parent in tree if level == "street"]
    assert streets
    wrong = [(parent, name) for name, parent in streets
             if name not in REAL_STREETS.get(parent, set())]
    assert wrong == [], wrong
    names = [name for name, _, _ in communities.values()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert names.count("龙华社区") <= 1
    # The table itself: real pairs only, and no community name twice in the city.
    for district, table in DISTRICT_STREETS.items():
        assert {s for s, _ in table} <= REAL_STREETS[district], district
    every = [c for table in DISTRICT_STREETS.values() for _, cs in table for c in cs]
    assert len(every) == len(set(every))


def test_demo_people_names_match_sex_and_locals_live_in_their_suzhou_district(demo):
    _, communities, people, _ = _snapshot(demo)
    assert len(people) == 400
    for name, gender, id_no, community_id, residence, hukou, kind in people:
        assert name[0] in SURNAMES, name
        pool = MALE_GIVEN if gender == "male" else FEMALE_GIVEN
        assert name[1:] in pool, (name, gender)
        assert int(id_no[16]) % 2 == (1 if gender == "male" else 0), (name, id_no)
        if community_id is not None:
            _, street, district = communities[community_id]
            assert kind == "local"
            for address in (residence, hukou):
                assert address.startswith(f"苏州市{district}{street}"), (address, district)


def test_demo_employers_are_former_state_enterprises_with_successors(demo):
    _, _, _, units = _snapshot(demo)
    by_name = {name: (status, successor, district) for name, status, successor, district
               in units}
    for old, new, _ in STATE_ENTERPRISES:
        status, successor, _ = by_name[old]
        assert status in ("closed", "bankrupt", "restructured") and successor == new
        assert by_name[new][0] == "active"
    assert by_name["苏州第一光学仪器厂"][1] == "苏州光学仪器有限公司"
    assert any(district == "工业园区" for _, _, district in by_name.values())
    assert not any(name.endswith("有限公司") and status != "active"
                   and successor is None for name, (status, successor, _) in by_name.items())


def test_demo_is_deterministic(demo, empty_database):
    """The same seed gives the same tree, people and employers (run it again on a second
    empty database)."""
    first = _snapshot(demo)
    from core.app import create_app
    from core.extensions import db

    with demo.app_context():
        db.session.remove()
        db.drop_all()
        from sqlalchemy import text

        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        else:
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
        db.session.commit()
        db.engine.dispose()
    again = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    runner = again.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    assert runner.invoke(args=["demo", "--retirees", "400", "--seed", "5"]).exit_code == 0
    second = _snapshot(again)
    assert first[0] == second[0] and first[3] == second[3]
    assert [p[:3] for p in first[2]] == [p[:3] for p in second[2]]


def test_demo_makes_a_login_for_every_level_and_for_the_plugins_roles(demo):
    """Core's logins, and those the installed plugins' roles ask for (RoleSpec.demo_login),
    each with its role."""
    from core.security import DEMO_LOGINS

    with demo.app_context():
        sm = demo.appbuilder.sm
        for login, role in [("admin", "system_admin"), ("community", "community_staff"),
                            ("seccity", "security_admin"),
                            *((login, role) for role, login in DEMO_LOGINS.items())]:
            user = sm.find_user(username=login)
            assert user is not None and [r.name for r in user.roles] == [role], login
