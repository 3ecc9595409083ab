"""Kept aggregates (core.caching, issue 7): the home page's counts are computed once and
served again until a write to the register, whichever path it takes; several workers share
them (and their invalidation) through Redis."""
import os
import re
import uuid

from sqlalchemy import update

from core.testing import missing, patience, statements

REDIS_URL = os.environ.get("RETIREE_ADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def cards(client) -> list[int]:
    page = client.get("/").get_data(as_text=True)
    block = page[page.find('id="ra-counts"'):]
    return [int(n) for n in re.findall(r'class="ra-num">(\d+)<', block)[:4]]


def counting(statements: list[str]) -> list[str]:
    return [s for s in statements if "management_state" in s and "count(" in s.lower()]


def test_home_counts_are_kept_between_requests(app, client_for, create_retiree):
    create_retiree(1)
    client = client_for("c_cl11")
    first = cards(client)
    with statements(app) as seen:
        again = cards(client)
    assert again == first
    assert counting(seen) == [], "the second visit scanned the register again"


def test_home_counts_follow_every_write_path(app, client_for, create_retiree, retiree_payload):
    """An API create, a screen edit and a bulk UPDATE through the session each give the
    register a new generation; the next visit counts afresh."""
    from core.extensions import db
    from core.registry.models import Retiree

    client = client_for("c_cl11")
    before = cards(client)
    person = create_retiree(2)
    after_create = cards(client)
    assert sum(after_create[:3]) == sum(before[:3]) + 1

    with app.app_context():
        db.session.execute(update(Retiree).where(Retiree.id == person)
                           .values(management_state="deceased").execution_options(unscoped=True))
        db.session.commit()
    after_update = cards(client)
    assert after_update[2] == after_create[2] + 1

    other = client_for("c_cl12")
    cards(other)  # kept for the sibling community too
    create_retiree(3, community="320502001002")
    assert sum(cards(other)[:3]) == 1


def test_home_counts_survive_writes_to_other_tables(app, client_for, create_retiree):
    """Generations are per table: a new employer leaves the register's counts kept."""
    from core.extensions import db
    from core.registry.models import Enterprise

    create_retiree(4)
    client = client_for("c_cl11")
    cards(client)
    with app.app_context():
        db.session.add(Enterprise(unit_no="320599999", name="测试缓存有限公司"))
        db.session.commit()
    with statements(app) as seen:
        cards(client)
    assert counting(seen) == []


def test_home_counts_are_not_shared_across_regions(app, client_for, create_retiree):
    """The key is the reader's scope: the city and a community never see each other's."""
    create_retiree(5)
    create_retiree(6, community="320503001001")
    city, community = client_for("city"), client_for("c_cl11")
    assert sum(cards(community)[:3]) == 1
    assert sum(cards(city)[:3]) == 2
    assert sum(cards(client_for("c_pj11"))[:3]) == 1


def test_kept_values_are_keyed_by_the_readers_scope(app):
    """core.caching.kept: the same name computed under two scopes is two values, and code
    running unscoped has its own; a plugin need not remember to key by region."""
    from core import caching
    from core.scoping import scoped_to, unscoped

    calls = []

    def compute(label):
        return lambda: calls.append(label) or label

    with app.test_request_context("/"):
        with scoped_to("/320500/320502/"):
            assert caching.kept("figure", ("retiree",), compute("d1")) == "d1"
            assert caching.kept("figure", ("retiree",), compute("again")) == "d1"
        with scoped_to("/320500/320503/"):
            assert caching.kept("figure", ("retiree",), compute("d2")) == "d2"
        with unscoped():
            assert caching.kept("figure", ("retiree",), compute("all")) == "all"
    assert calls == ["d1", "d2", "all"]


def test_workers_share_kept_counts_and_their_invalidation_in_redis(app_factory, client_for,
                                                                  retiree_payload):
    """Two apps (two gunicorn workers) on one Redis cache: a write through one is seen by
    the other's next home page."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=patience(5)).ping()
    except Exception as exc:  # CI must have Redis; elsewhere it may be absent
        missing(f"Redis not reachable at {REDIS_URL}: {exc}")
    prefix = f"ra-test-{uuid.uuid4().hex}:"
    shared = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": REDIS_URL,
              "CACHE_KEY_PREFIX": prefix}
    one, two = app_factory(**shared), app_factory(**shared)
    reader = client_for("c_cl11", two)
    assert cards(reader)[:3] == [0, 0, 0]
    with statements(two) as seen:
        cards(reader)
    assert counting(seen) == []
    assert redis.Redis.from_url(REDIS_URL).keys(f"{prefix}*"), "nothing was kept in Redis"

    response = client_for("admin", one).post("/api/v1/retiree/", json=retiree_payload(7))
    assert response.status_code == 201, response.json
    assert sum(cards(reader)[:3]) == 1


def test_search_form_fields_are_kept_until_their_related_rows_change(app, client_for,
                                                                     create_retiree):
    """core.views.search: the list's search form (every search column's input, the
    community drop-down read from the region table) is rendered once per screen, region
    and language; a new community appears in it at once."""
    import json

    from core.extensions import db
    from core.regions import Region

    def offered(page: str, name: str) -> bool:  # the form's inputs travel as JSON
        return json.dumps(name)[1:-1] in page

    create_retiree(8)
    client = client_for("s_cl1")
    first = client.get("/retiree/list/").get_data(as_text=True)
    assert offered(first, "西街社区") and not offered(first, "新桥社区")
    with statements(app) as seen:
        again = client.get("/retiree/list/").get_data(as_text=True)
    assert not [s for s in seen if "FROM region" in s and "IN (" not in s], seen
    assert offered(again, "西街社区")

    with app.app_context():
        street = db.session.scalars(Region.__table__.select().where(
            Region.code == "320502001").with_only_columns(Region.id)).one()
        db.session.add(Region(code="320502001009", name="新桥社区", level="community",
                              parent=db.session.get(Region, street)))
        db.session.commit()
    assert offered(client.get("/retiree/list/").get_data(as_text=True), "新桥社区")
    # another street's clerk has their own form: the new community is not offered there
    other = client_for("s_cl2").get("/retiree/list/").get_data(as_text=True)
    assert offered(other, "南苑社区") and not offered(other, "新桥社区")
