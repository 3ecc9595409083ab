"""A6: one mechanism in core limits every scoped model to the user's region subtree, on
every path. An attack suite: user level (community, street, district, city) × where the
target lies relative to the user's region (own, sibling, parent, child) × each path
(screens, list actions, REST, drop-downs and ``_info``, search filters, counts, exports,
the region tree's totals, background code), on the registry (``Retiree``, ``Region``) and
on a scoped model defined here (``Gadget``). Every outcome is checked against the
database read with raw SQL, which the scoping listeners do not touch.

A retiree hangs on a community or, as an outside resident (A19), on the city node; no
retiree sits on a street or district node. So for retirees "own" is tested at the
community and the city, "child" at the street and the district, and "parent" is the
city node. A community has no child region. ``Gadget`` can hang on any node and covers
every cell.

Each cell collects all its failures before asserting, so one run names every leaking
path of that cell.
"""
import io
import re
from datetime import date

import openpyxl
import pytest
from flask import redirect, url_for
from flask_appbuilder import Model
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import FilterStartsWith
from sqlalchemy import ForeignKey, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.errors import ScopeViolation
from core.extensions import db
from core.regions import Region
from core.registry import service
from core.registry.models import Enterprise, Retiree
from core.registry.views import (
    FilterIdCard,
    FilterInRegion,
    FilterNameOrInitials,
    RetireeModelView,
)
from core.scoping import ScopedMixin, scoped_to, unscoped
from core.views.base import ScopedModelRestApi, ScopedModelView, interface
from tests.conftest import USERS

# --- a scoped model that exists only in the tests ------------------------------------
# It must be on FAB's Model: core.scoping finds scoped classes in Model.registry. Its
# table is created per test; the ``test_`` prefix tells the migration-comparison test to
# ignore it.


class Gadget(ScopedMixin, Model):
    __tablename__ = "test_gadget"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    note: Mapped[str | None] = mapped_column(String(50))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False)
    region = relationship(Region)

    def __str__(self) -> str:
        return self.name

    def compute_region_path(self) -> str | None:
        return self.region.region_path if self.region is not None else None


class GadgetView(ScopedModelView):
    datamodel = interface(Gadget)
    route_base = "/test-gadget"
    list_columns = ["name", "region", "note"]
    show_columns = ["name", "region", "note"]
    add_columns = ["name", "region", "note"]
    edit_columns = ["name", "region", "note"]
    search_columns = ["name", "region"]

    @action("touch", "Touch", "", "fa-hand-o-up")
    def touch(self, items):
        for item in items if isinstance(items, list) else [items]:
            item.note = "touched"
        db.session.commit()
        return redirect(url_for(".list"))


class GadgetApi(ScopedModelRestApi):
    resource_name = "test-gadget"
    datamodel = interface(Gadget)
    allow_browser_login = True
    list_columns = ["id", "name", "note", "region.id"]
    show_columns = ["id", "name", "note", "region.id"]
    add_columns = ["name", "note", "region"]
    edit_columns = ["name", "note", "region"]


# --- the places -----------------------------------------------------------------------
C11, C12, C21, PJ11 = "320502001001", "320502001002", "320502002001", "320503001001"
# Retirees of the world fixture: key → (community code or None for the city node, n).
RETIREES = {"c11": (C11, 11), "c11b": (C11, 13), "c12": (C12, 12), "c21": (C21, 21),
            "pj11": (PJ11, 31), "city": (None, 90)}
# Gadgets: key → region code.
GADGETS = {"city": "320500", "d_cl": "320502", "d_pj": "320503", "s_cl1": "320502001",
           "s_cl2": "320502002", "c11": C11, "c12": C12}
READ_ONLY = {"sup"}
MISSING = (404,)
REFUSED = (403, 422)

COUNT_RE = re.compile(r"(?:Record Count|记录数目?):</strong>\s*(\d+)")


def page_count(response) -> int | None:
    found = COUNT_RE.search(response.get_data(as_text=True))
    return int(found.group(1)) if found else None


def select_options(page: str, field: str) -> set[int] | None:
    found = re.search(rf'<select[^>]*name="{field}"[^>]*>(.*?)</select>', page, re.S)
    return {int(v) for v in re.findall(r'value="(\d+)"', found.group(1))} if found else None


def form_errors(response) -> str:
    """Names of the fields a re-rendered form complains about, for failure messages."""
    page = response.get_data(as_text=True)
    names = [re.findall(r'name="(\w+)"', page[max(0, m.start() - 2500):m.start()])[-1:]
             for m in re.finditer(r"必填|Not a valid|无效|不能", page)]
    return f" (form errors on {sum(names, [])})" if names else ""


def info_values(body: dict, key: str, field: str) -> set[int]:
    for col in body[key]:
        if col["name"] == field:
            return {v["id"] for v in col["values"]}
    raise AssertionError(f"{field} missing from _info {key}")


def form_data(payload: dict) -> dict:
    """The screen's form fields from an API payload."""
    data = {}
    for key, value in payload.items():
        if value is None:
            data[key] = "__None" if key in ("community", "employer", "custodian_agency") else ""
        elif isinstance(value, bool):
            if value:
                data[key] = "y"
        else:
            data[key] = str(value)
    return data


class Problems(list):
    """Mismatches of one cell, reported together."""

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.append(what)

    def status(self, response, want, what: str) -> None:
        want = (want,) if isinstance(want, int) else tuple(want)
        self.check(response.status_code in want,
                   f"{what}: HTTP {response.status_code}, expected {' or '.join(map(str, want))}")

    def done(self, cell: str) -> None:
        assert not self, f"A6 scoping holes for {cell}:\n  " + "\n  ".join(self)


class Sql:
    """The truth: raw SQL, never scoped."""

    def __init__(self, app):
        self.app = app

    def rows(self, sql: str, **params) -> list:
        with self.app.app_context(), db.engine.connect() as con:
            return con.execute(text(sql), params).all()

    def scalar(self, sql: str, **params):
        rows = self.rows(sql, **params)
        return rows[0][0] if rows else None

    def path(self, code: str) -> str:
        return self.scalar("SELECT region_path FROM region WHERE code = :c", c=code)

    def region_id(self, code: str) -> int:
        return self.scalar("SELECT id FROM region WHERE code = :c", c=code)

    def prefix(self, username: str) -> str:
        return self.path(USERS[username][1])

    def count(self, table: str, prefix: str, extra: str = "", **params) -> int:
        return self.scalar(f"SELECT count(*) FROM {table} WHERE region_path LIKE :p {extra}",
                           p=prefix + "%", **params)

    def communities(self, prefix: str) -> set[int]:
        return {r[0] for r in self.rows(
            "SELECT id FROM region WHERE level = 'community' AND region_path LIKE :p",
            p=prefix + "%")}

    def retiree(self, pk: int):
        """Everything a write could change about one retiree."""
        return (self.rows("SELECT * FROM retiree WHERE id = :i", i=pk),
                self.scalar("SELECT count(*) FROM retiree_history WHERE retiree_id = :i", i=pk),
                self.scalar("SELECT count(*) FROM retiree_transfer WHERE retiree_id = :i", i=pk),
                self.scalar("SELECT count(*) FROM retiree"))

    def gadget(self, pk: int):
        return (self.rows("SELECT * FROM test_gadget WHERE id = :i", i=pk),
                self.scalar("SELECT count(*) FROM test_gadget"))


class World:
    def __init__(self, app, client_for, sql, ids, payloads):
        self.app, self.sql, self._client_for, self._clients = app, sql, client_for, {}
        self.ids, self.payloads = ids, payloads

    def login(self, username: str):
        """One logged-in client per user and test (logging in hashes a password)."""
        if username not in self._clients:
            self._clients[username] = self._client_for(username)
        return self._clients[username]

    def filter_arg(self, column: str, kind: type) -> str:
        """``_flt_<n>_<column>`` of a custom search filter, as FAB resolves it."""
        view = next(v for v in self.app.appbuilder.baseviews if isinstance(v, RetireeModelView))
        kinds = [type(f) for f in view._filters._all_filters[column]]
        assert kind in kinds, f"{kind.__name__} cannot be reached from a URL"
        return f"_flt_{kinds.index(kind)}_{column}"


@pytest.fixture
def sql(app):
    return Sql(app)


@pytest.fixture
def world(app, client_for, retiree_payload, sql):
    """Six retirees in three districts and on the city node, registered through the
    registry's service (the path every screen and API takes) by a background task."""
    ids, payloads = {}, {}
    with app.app_context():
        for key, (community, n) in RETIREES.items():
            payloads[key] = payload = retiree_payload(n, community)
            fields = {k: date.fromisoformat(v) if k.endswith("_date") else v
                      for k, v in payload.items() if k not in ("employer", "community")}
            retiree = Retiree(**fields, employer=db.session.get(Enterprise, payload["employer"]),
                              community=db.session.get(Region, payload["community"])
                              if community else None)
            service.prepare(db.session, retiree, "test")
            db.session.add(retiree)
            db.session.flush()
            ids[key] = retiree.id
        db.session.commit()
        db.session.remove()
    return World(app, client_for, sql, ids, payloads)


@pytest.fixture
def app(request, shared_app, app_factory):
    """A test with the Gadget screens gets an app of its own: a shared app refuses new
    views; the others share one (core.testing)."""
    return app_factory() if "gadgets" in request.fixturenames else shared_app()


@pytest.fixture
def gadgets(app, sql):
    """The Gadget table, screen and API on this test's app; one gadget per place."""
    with app.app_context():
        Gadget.__table__.create(db.engine, checkfirst=True)
        app.appbuilder.add_view_no_menu(GadgetView)
        app.appbuilder.add_api(GadgetApi)
        made = {}
        for key, code in GADGETS.items():
            made[key] = Gadget(name=f"gadget-{key}", region=db.session.scalar(
                select(Region).where(Region.code == code)))
            db.session.add(made[key])
        db.session.commit()
        ids = {key: g.id for key, g in made.items()}
        db.session.remove()
    return ids


# --- retirees: every read path, and writes on what the user must not see -------------

RETIREE_CELLS = [
    pytest.param("c_cl11", "c11", True, id="community-own-visible"),
    pytest.param("c_cl11", "c12", False, id="community-sibling-hidden"),
    pytest.param("c_cl11", "city", False, id="community-parent-hidden"),
    pytest.param("s_cl1", "c11", True, id="street-child-visible"),
    pytest.param("s_cl1", "c21", False, id="street-sibling-hidden"),
    pytest.param("s_cl1", "city", False, id="street-parent-hidden"),
    pytest.param("d_cl", "c21", True, id="district-child-visible"),
    pytest.param("d_cl", "pj11", False, id="district-sibling-hidden"),
    pytest.param("d_cl", "city", False, id="district-parent-hidden"),
    pytest.param("city", "city", True, id="city-own-visible"),
    pytest.param("city", "pj11", True, id="city-child-visible"),
    pytest.param("sup", "city", True, id="city_supervisor-own-visible"),
    pytest.param("sup", "c12", True, id="city_supervisor-child-visible"),
]


@pytest.mark.parametrize(("username", "target", "visible"), RETIREE_CELLS)
def test_A6_retiree_every_path_follows_the_users_subtree(world, username, target, visible):
    sql, p = world.sql, Problems()
    client = world.login(username)
    pk, payload = world.ids[target], world.payloads[target]
    name, id_card = payload["name"], payload["id_card_no"]
    pno = f"{int(payload['personal_no']):08d}"  # in list rows, never echoed by a search box
    prefix = sql.prefix(username)
    in_scope = sql.count("retiree", prefix)
    staff = username not in READ_ONLY
    hit = 200 if visible else MISSING
    before = sql.retiree(pk)

    # UI list, its record count and its search filters.
    r = client.get("/retiree/list/")
    p.status(r, 200, "UI list")
    p.check((pno in r.get_data(as_text=True)) == visible, f"UI list shows {name}: {not visible}")
    p.check(page_count(r) == in_scope, f"UI list count {page_count(r)} != in scope {in_scope}")
    flt = world.filter_arg
    for query, want in ((f"{flt('name', FilterNameOrInitials)}={name}", int(visible)),
                        (f"{flt('id_card_no', FilterIdCard)}={id_card}", int(visible)),
                        (f"{flt('region_path', FilterStartsWith)}="
                         f"{sql.path(RETIREES[target][0] or '320500')}", None)):
        r = client.get(f"/retiree/list/?{query}")
        if want is not None:
            p.check(page_count(r) == want, f"UI search {query}: count {page_count(r)} != {want}")
        p.check((pno in r.get_data(as_text=True)) == visible, f"UI search {query} shows {name}")
    code = RETIREES[target][0] or "320500"
    under = sql.count("retiree", prefix, "AND region_path LIKE :q", q=sql.path(code) + "%")
    query = f"{flt('region_path', FilterInRegion)}={code}"
    r = client.get(f"/retiree/list/?{query}")
    p.check(page_count(r) == under, f"UI search {query}: count {page_count(r)} != {under}")
    p.check((pno in r.get_data(as_text=True)) == visible, f"UI search {query} shows {name}")

    # UI screens of one retiree.
    r = client.get(f"/retiree/show/{pk}")
    p.status(r, hit, "UI show")
    if visible:
        p.check(name in r.get_data(as_text=True), "UI show lacks the name")
    # PDFs are slow to draw: the visible side is checked once per level, on own rows.
    for path in ("print", "card") if staff else ("print",):
        if not visible or username == target or (username, target) == ("c_cl11", "c11"):
            r = client.get(f"/retiree/{path}/{pk}")
            p.status(r, hit, f"UI {path}")
            p.check(not visible or r.mimetype == "application/pdf", f"UI {path}: {r.mimetype}")
    if staff:
        for path in ("edit", "move", "death", "remove", "archive"):
            p.status(client.get(f"/retiree/{path}/{pk}"), hit, f"UI {path} GET")

    # The history tab (related view) and its own list.
    hist = sql.scalar("SELECT min(id) FROM retiree_history WHERE retiree_id = :i", i=pk)
    hist_truth = sql.scalar(
        "SELECT count(*) FROM retiree_history h JOIN retiree r ON r.id = h.retiree_id "
        "WHERE r.region_path LIKE :p", p=prefix + "%")
    r = client.get("/retireehistoryview/list/")
    p.check(page_count(r) == hist_truth, f"history list count {page_count(r)} != {hist_truth}")
    p.status(client.get(f"/retireehistoryview/show/{hist}"), hit, "history show")

    # REST reads.
    r = client.get("/api/v1/retiree/", query_string={"q": "(page_size:100)"})
    p.status(r, 200, "API list")
    ids = {row["id"] for row in r.json.get("result", [])}
    p.check(r.json.get("count") == in_scope, f"API count {r.json.get('count')} != {in_scope}")
    p.check((pk in ids) == visible, f"API list has {target}: {pk in ids}")
    r = client.get("/api/v1/retiree/",
                   query_string={"q": f"(filters:!((col:name,opr:ct,value:'{name}')))"})
    p.check(r.json.get("count") == int(visible), f"API name filter count {r.json.get('count')}")
    if RETIREES[target][0]:
        cid = sql.region_id(RETIREES[target][0])
        want = sql.count("retiree", prefix, "AND community_id = :c", c=cid)
        r = client.get("/api/v1/retiree/", query_string={
            "q": f"(filters:!((col:community,opr:rel_o_m,value:{cid})),page_size:100)"})
        p.check(r.json.get("count") == want, f"API community filter: {r.json.get('count')}")
        r = client.get(f"/retiree/list/?_flt_0_community={cid}")
        p.check(page_count(r) == want, f"UI community filter: {page_count(r)} != {want}")
    p.status(client.get(f"/api/v1/retiree/{pk}"), hit, "API GET")
    # Drop-downs: the add form, the search form, _info.
    communities = sql.communities(prefix)
    r = client.get("/api/v1/retiree/_info",
                   query_string={"q": "(keys:!(add_columns,edit_columns))"})
    for key in ("add_columns", "edit_columns"):
        got = info_values(r.json, key, "community")
        p.check(got == communities, f"API _info {key} community choices {got} != {communities}")
    got = select_options(client.get("/retiree/list/").get_data(as_text=True), "community")
    p.check(got is None or got <= communities, f"UI search community choices {got}")
    if staff:
        got = select_options(client.get("/retiree/add").get_data(as_text=True), "community")
        p.check(got == communities, f"UI add community choices {got} != {communities}")
        if visible:
            got = select_options(client.get(f"/retiree/edit/{pk}").get_data(as_text=True),
                                 "community")
            p.check(got == communities, f"UI edit community choices {got} != {communities}")

    # Writes on the target. Hidden: 404 everywhere, nothing changed. Visible: allowed.
    own = sql.region_id(C11) if sql.path(C11).startswith(prefix) else None
    # The edit form never saves the ID number or phone (issue #12: they change through
    # their own correction step), so the form's write is seen on the address.
    edited = dict(payload, residence_address="苏州市姑苏区十全街1号")
    if not visible:
        attempts = [
            ("UI edit POST", client.post(f"/retiree/edit/{pk}", data=form_data(edited))),
            ("UI move POST", client.post(f"/retiree/move/{pk}", data={
                "community": str(own or ""), "moved_on": "2024-01-01", "reason": "x"})),
            ("UI death POST", client.post(f"/retiree/death/{pk}", data={
                "death_date": "2024-01-01", "cause": "x", "reporter": "x"})),
            ("UI remove POST", client.post(f"/retiree/remove/{pk}", data={"reason": "x"})),
            ("UI archive POST", client.post(f"/retiree/archive/{pk}",
                                            data={"accepted_on": "2024-01-01"})),
            ("UI delete (no can_delete: 403 before any lookup)",
             client.get(f"/retiree/delete/{pk}")),
            ("UI action_post", client.post("/retiree/action_post",
                                           data={"action": "touch", "rowid": str(pk)})),
            ("API PUT", client.put(f"/api/v1/retiree/{pk}", json={"phone": "13900000001"})),
            ("API DELETE", client.delete(f"/api/v1/retiree/{pk}")),
        ]
        for what, r in attempts:
            # The retiree screen has no list action: "touch" is refused before any
            # lookup (400, issue #12 item 17); the gadget's below checks the scope.
            p.status(r, {"API DELETE": (404, 405), "UI action_post": (400,)}.get(
                what, (403, 404) if "delete" in what else MISSING), what)
        p.check(sql.retiree(pk) == before, "a refused write changed the hidden retiree")
    elif staff:
        version = sql.scalar("SELECT version FROM retiree WHERE id = :i", i=pk)
        r = client.post(f"/retiree/edit/{pk}", data=form_data(edited) | {"version": version})
        p.status(r, 302, "UI edit POST" + form_errors(r))
        p.check(sql.scalar("SELECT residence_address FROM retiree WHERE id = :i", i=pk)
                == "苏州市姑苏区十全街1号", "UI edit POST did not save")
        r = client.put(f"/api/v1/retiree/{pk}", json={"phone": "13900000002"})
        p.status(r, 200, "API PUT")
        p.check(sql.scalar("SELECT phone FROM retiree WHERE id = :i", i=pk) == "13900000002",
                "API PUT did not save")
        p.status(client.get(f"/retiree/delete/{pk}"), (302, 403, 404), "UI delete")
        p.status(client.delete(f"/api/v1/retiree/{pk}"), (404, 405), "API DELETE")
        p.check(sql.scalar("SELECT count(*) FROM retiree WHERE id = :i", i=pk) == 1,
                "a retiree was hard-deleted")
    else:
        p.status(client.put(f"/api/v1/retiree/{pk}", json={"phone": "13900000001"}),
                 (401, 403), "read-only API PUT")
        p.status(client.post(f"/retiree/edit/{pk}", data=form_data(edited)), (302, 403),
                 "read-only UI edit POST")
        p.check(sql.retiree(pk) == before, "a read-only user changed a retiree")
    p.done(f"{username} → {target}")


# --- retirees: a write must not create a row outside the subtree or move one out ----

WRITE_CELLS = [
    pytest.param("c_cl11", C11, True, id="community-own-allowed"),
    pytest.param("c_cl11", C12, False, id="community-sibling-refused"),
    pytest.param("c_cl11", None, False, id="community-parent-refused"),
    pytest.param("s_cl1", C12, True, id="street-child-allowed"),
    pytest.param("s_cl1", C21, False, id="street-sibling-refused"),
    pytest.param("s_cl1", None, False, id="street-parent-refused"),
    pytest.param("d_cl", C21, True, id="district-child-allowed"),
    pytest.param("d_cl", PJ11, False, id="district-sibling-refused"),
    pytest.param("d_cl", None, False, id="district-parent-refused"),
    pytest.param("city", None, True, id="city-own-allowed"),
    pytest.param("city", PJ11, True, id="city-child-allowed"),
]


@pytest.mark.parametrize(("username", "community", "allowed"), WRITE_CELLS)
def test_A6_retiree_cannot_be_created_in_or_moved_to_another_scope(
        world, retiree_payload, username, community, allowed):
    """``community`` None is an outside resident, on the city node (A19)."""
    sql, p = world.sql, Problems()
    client = world.login(username)
    path = sql.path(community or "320500")
    place = {"residence_type": "local" if community else "outside",
             "community": sql.region_id(community) if community else None}
    total = sql.scalar("SELECT count(*) FROM retiree")

    def created(n: int) -> int:
        return sql.scalar("SELECT count(*) FROM retiree WHERE personal_no = :n AND "
                          "region_path = :p", n=f"{1000 + n:08d}", p=path)

    # REST POST.
    r = client.post("/api/v1/retiree/", json=retiree_payload(50, community))
    p.status(r, 201 if allowed else REFUSED, "API POST")
    if not allowed:
        p.check(bool(r.is_json and r.json.get("message")), "API POST refusal has no message")
    p.check(created(50) == int(allowed), f"API POST: rows created {created(50)}")
    # UI add.
    r = client.post("/retiree/add", data=form_data(retiree_payload(51, community)))
    p.status(r, (200, 302), "UI add POST")
    p.check(created(51) == int(allowed), f"UI add: rows created {created(51)}")
    if not allowed:
        p.check(sql.scalar("SELECT count(*) FROM retiree") == total, "a refused add wrote a row")

    # Moves of rows the user manages (both in C11, inside every writer's subtree).
    for what, pk, send in (
            ("API PUT", world.ids["c11"],
             lambda pk: client.put(f"/api/v1/retiree/{pk}", json=place)),
            ("UI edit POST", world.ids["c11b"],
             lambda pk: client.post(f"/retiree/edit/{pk}", data=form_data(
                 world.payloads["c11b"] | place | {"version": sql.scalar(
                     "SELECT version FROM retiree WHERE id = :i", i=pk)})))):
        before = sql.retiree(pk)
        r = send(pk)
        if what == "API PUT":
            p.status(r, 200 if allowed else REFUSED, what)
            if not allowed:
                p.check(bool(r.is_json and r.json.get("message")), f"{what}: no message")
        else:
            p.status(r, 302 if allowed else (200, 302), what)
        now = sql.scalar("SELECT region_path FROM retiree WHERE id = :i", i=pk)
        if allowed:
            p.check(now == path, f"{what}: path {now}, expected {path}")
        else:
            p.check(sql.retiree(pk) == before, f"{what}: the refused move changed the row")
    p.done(f"{username} → {community or 'city node'}")


def test_A6_refused_ui_writes_say_why(world, retiree_payload):
    """The screens flash a message instead of answering 403/422."""
    client = world.login("c_cl11")
    page = client.post("/retiree/add", data=form_data(retiree_payload(52, None)),
                       follow_redirects=True).get_data(as_text=True)
    assert "本辖区以外" in page
    page = client.post("/retiree/add", data=form_data(retiree_payload(53, C12)),
                       follow_redirects=True).get_data(as_text=True)
    assert "Not a valid choice" in page or "无效" in page


def test_A6_uniqueness_is_city_wide_but_does_not_reveal_the_other_record(world, retiree_payload):
    """F4: a personal or ID number registered in another community is refused (422) without
    saying who holds it or where."""
    sql = world.sql
    client = world.login("c_cl11")
    other = world.payloads["c12"]
    total = sql.scalar("SELECT count(*) FROM retiree")
    for field, dup in (("personal_no", {"personal_no": other["personal_no"]}),
                       ("id_card_no", {"id_card_no": other["id_card_no"]})):
        r = client.post("/api/v1/retiree/", json=retiree_payload(60, C11, **dup))
        assert r.status_code == 422, (field, r.status_code, r.json)
        body = r.get_data(as_text=True)
        assert "已登记" in r.json["message"][field][0]
        for secret in (other["name"], "西街", "320502001002"):
            assert secret not in body, f"{field} refusal reveals {secret!r}"
        page = client.post("/retiree/add", data=form_data(retiree_payload(61, C11, **dup)),
                           follow_redirects=True).get_data(as_text=True)
        assert "已登记" in page and other["name"] not in page
    assert sql.scalar("SELECT count(*) FROM retiree") == total


# --- counts, aggregates, exports, moves between scopes --------------------------------


def test_A6_home_page_counts_equal_the_users_subtree(world):
    sql = world.sql
    sql_states = [("320502001002", "community_managed"), ("320503001001", "deceased")]
    with world.app.app_context(), db.engine.begin() as con:
        for code, state in sql_states:
            con.execute(text("UPDATE retiree SET management_state = :s WHERE region_path = "
                             "(SELECT region_path FROM region WHERE code = :c)"),
                        {"s": state, "c": code})
    problems = Problems()
    for username in ("sup", "d_cl", "d_pj", "s_cl1", "c_cl11"):
        prefix = sql.prefix(username)
        truth = [sql.count("retiree", prefix, "AND management_state = :s", s=s)
                 for s in ("employer_managed", "community_managed", "deceased")]
        truth.append(sql.count(
            "retiree", prefix, "AND form_complete = :f AND management_state IN "
            "('employer_managed', 'community_managed')", f=False))
        page = world.login(username).get("/").get_data(as_text=True)
        cards = page[page.find('id="ra-counts"'):]
        got = [int(n) for n in re.findall(r'class="ra-num">(\d+)<', cards)[:4]]
        problems.check(got == truth, f"{username}: home counts {got} != {truth}")
    problems.done("home page counts")


def xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                     for v in row if v is not None)


def test_A6_export_contains_only_the_subtree(world):
    sql, p = world.sql, Problems()
    client = world.login("s_cl1")
    prefix = sql.prefix("s_cl1")
    r = client.get("/retiree/export/")
    p.status(r, 200, "export")
    p.check(int(r.headers.get("X-Row-Count", -1)) == sql.count("retiree", prefix),
            f"export row count {r.headers.get('X-Row-Count')}")
    content = xlsx_text(r.data)
    for key, (community, _n) in RETIREES.items():
        shown = world.payloads[key]["name"] in content
        inside = sql.path(community or "320500").startswith(prefix)
        p.check(shown == inside, f"export shows {key}: {shown}")
    for code in (C21, "320500"):  # a sibling's and the parent's region filter
        r = client.get(f"/retiree/export/?_flt_0_region_path={code}")
        want = sql.count("retiree", prefix, "AND region_path LIKE :q", q=sql.path(code) + "%")
        p.check(int(r.headers.get("X-Row-Count", -1)) == want,
                f"export filtered to {code}: {r.headers.get('X-Row-Count')} != {want}")
    p.done("s_cl1 export")


DASHBOARD_CELLS = [
    pytest.param("c_cl11", C12, "320502001", id="community"),
    pytest.param("s_cl1", "320502002", "320502", id="street"),
    pytest.param("d_cl", "320503", "320500", id="district"),
    pytest.param("sup", None, None, id="city_supervisor"),
]


@pytest.mark.parametrize(("username", "sibling", "parent"), DASHBOARD_CELLS)
def test_A6_charts_cards_and_tree_totals_count_only_the_subtree(world, username, sibling, parent):
    """The dashboard (cards, charts, their xlsx, a region chosen in the URL) and the region
    tree's per-node totals with their list links."""
    sql, p = world.sql, Problems()
    client = world.login(username)
    prefix = sql.prefix(username)

    page = client.get("/regions/tree/").get_data(as_text=True)
    # The user's own node is labelled 本辖区 (issue 14 item 12).
    totals = {code: n.replace(",", "") for code, n in re.findall(
        r'(\d{6,12}) · (?:<strong class="ra-own-scope">本辖区 )?([\d,]+)人', page)}
    assert len(re.findall("本辖区", page)) == 1
    visible = {r[0] for r in sql.rows(
        "SELECT code FROM region WHERE region_path LIKE :p OR :q LIKE region_path || '%'",
        p=prefix + "%", q=prefix)}
    p.check(set(totals) == visible, f"tree nodes {sorted(set(totals) ^ visible)} differ")
    for code, shown in totals.items():
        # The tree counts the registered people, as the roster its nodes link to lists.
        truth = sql.count("retiree", prefix, "AND region_path LIKE :q AND management_state IN "
                          "('employer_managed', 'community_managed')", q=sql.path(code) + "%")
        p.check(int(shown) == truth, f"tree total of {code}: {shown} != {truth}")
        if code in (USERS[username][1], sibling, parent):  # each node links to its list
            listed = page_count(client.get(f"/retiree/list/?_flt_0_region_path={code}"))
            p.check(listed == truth, f"list under {code}: {listed} != {truth}")
    in_register = sql.count("retiree", prefix, "AND management_state IN "
                            "('employer_managed', 'community_managed')")
    everyone = sql.count("retiree", prefix)
    hidden_names = {r[0] for r in sql.rows(
        "SELECT name FROM region WHERE NOT (region_path LIKE :p OR :q LIKE region_path || '%')",
        p=prefix + "%", q=prefix)}

    def board(**args):
        r = client.get("/dashboard/data", query_string=args)
        p.status(r, 200, f"dashboard {args}")
        body = r.json or {}
        cards = {c["key"]: c for c in body.get("cards", [])}
        charts = {c["key"]: c for c in body.get("charts", [])}
        return body, cards, charts

    body, cards, charts = board()
    p.check(cards["total"]["value"] == in_register,
            f"card total {cards['total']['value']} != {in_register}")
    state = sum(sum(s["data"]) for s in charts["state"]["series"])
    p.check(state == everyone, f"state chart sums to {state}, not {everyone}")
    shown = set(charts["region"]["categories"]) & hidden_names
    p.check(not shown, f"region chart names hidden regions {shown}")
    if cards["total"].get("url"):
        listed = page_count(client.get(cards["total"]["url"]))
        p.check(listed == in_register, f"the total card's list shows {listed}")
    for code in filter(None, (sibling, parent)):
        body, cards, _ = board(region=code)
        p.check(bool(body.get("messages")), f"dashboard region={code} accepted silently")
        p.check(cards["total"]["value"] == in_register,
                f"dashboard region={code}: total {cards['total']['value']}")
        r = client.get("/dashboard/xlsx", query_string={"region": code, "chart": "state"})
        p.check(r.status_code == 200 and str(everyone) in xlsx_text(r.data),
                f"dashboard xlsx region={code}: HTTP {r.status_code}")
    p.done(f"{username} dashboard and region tree")


def test_A6_move_to_another_community_is_seen_from_both_sides_only(world):
    """A32: a move is the one sanctioned way for a row to leave the mover's subtree; the
    transfer record is visible to the old and the new side, the person only to the new."""
    sql, p = world.sql, Problems()
    pk = world.ids["c11"]
    r = world.login("c_cl11").post(f"/retiree/move/{pk}", data={
        "community": str(sql.region_id(C12)), "moved_on": "2024-03-01", "reason": "搬家"})
    p.status(r, 302, "move POST")
    p.check(sql.scalar("SELECT region_path FROM retiree WHERE id = :i", i=pk) == sql.path(C12),
            "the move did not happen")
    for username, sees_person, sees_transfer in (
            ("c_cl11", False, True), ("c_cl12", True, True), ("s_cl1", True, True),
            ("c_cl21", False, False), ("d_pj", False, False)):
        prefix = sql.prefix(username)
        client = world.login(username)
        truth = sql.scalar("SELECT count(*) FROM retiree_transfer WHERE region_path LIKE :p "
                           "OR from_path LIKE :p", p=prefix + "%")
        r = client.get("/retireetransferview/list/")
        p.check(page_count(r) == truth == int(sees_transfer),
                f"{username}: transfer list count {page_count(r)}, truth {truth}")
        p.status(client.get(f"/retiree/show/{pk}"), 200 if sees_person else 404,
                 f"{username}: show the moved person")
        hist = sql.scalar(
            "SELECT count(*) FROM retiree_history h JOIN retiree r ON r.id = h.retiree_id "
            "WHERE r.region_path LIKE :p", p=prefix + "%")
        r = client.get("/retireehistoryview/list/")
        p.check(page_count(r) == hist, f"{username}: history count {page_count(r)} != {hist}")
    p.done("move between communities")


# --- regions: the tree itself is scoped (subtree plus the names of ancestors) ---------

REGION_CELLS = [
    pytest.param("c_cl11", "320502001002", "320502001", id="community"),
    pytest.param("s_cl1", "320502002", "320502", id="street"),
    pytest.param("d_cl", "320503", "320500", id="district"),
    pytest.param("city", None, None, id="city"),
]


@pytest.mark.parametrize(("username", "sibling", "parent"), REGION_CELLS)
def test_A6_region_api_and_screens_show_the_subtree_and_ancestors(
        world, username, sibling, parent):
    sql, p = world.sql, Problems()
    client = world.login(username)
    prefix = sql.prefix(username)
    truth = {r[0] for r in sql.rows(
        "SELECT id FROM region WHERE region_path LIKE :p OR :q LIKE region_path || '%'",
        p=prefix + "%", q=prefix)}
    r = client.get("/api/v1/region/", query_string={"q": "(page_size:100)"})
    got = {row["id"] for row in r.json["result"]}
    p.check(r.json["count"] == len(truth) and got == truth,
            f"API region list {sorted(got ^ truth)} differ")
    r = client.get("/regionmodelview/list/", query_string={"psize_RegionModelView": 100})
    p.check(page_count(r) == len(truth), f"UI region count {page_count(r)} != {len(truth)}")
    districts = {r[0] for r in sql.rows(
        "SELECT id FROM region WHERE level = 'district' AND (region_path LIKE :p "
        "OR :q LIKE region_path || '%')", p=prefix + "%", q=prefix)}
    r = client.get("/api/v1/region/_info", query_string={"q": "(keys:!(add_columns))"})
    got = info_values(r.json, "add_columns", "parent")
    p.check(got == districts, f"API region _info parent choices {got} != {districts}")
    if sibling:
        sid = sql.region_id(sibling)
        p.status(client.get(f"/api/v1/region/{sid}"), 404, "API GET sibling region")
        p.status(client.get(f"/regionmodelview/show/{sid}"), 404, "UI show sibling region")
        # Ancestors' names are visible by design (Region.scope_criterion).
        p.status(client.get(f"/api/v1/region/{sql.region_id(parent)}"), 200,
                 "API GET parent region")
    p.done(f"{username} regions")


def test_A6_district_admin_cannot_write_regions_outside_the_district(world):
    sql, p = world.sql, Problems()
    client = world.login("d_cl")
    regions = sql.scalar("SELECT count(*) FROM region")
    snapshot = sql.rows("SELECT * FROM region ORDER BY id")
    sibling, city = sql.region_id("320503"), sql.region_id("320500")
    attempts = [
        ("API POST street under a sibling district", 422, client.post("/api/v1/region/", json={
            "code": "320503009", "name": "越界街道", "level": "street", "parent": sibling})),
        ("API POST district under the city", 403, client.post("/api/v1/region/", json={
            "code": "320599", "name": "越界区", "level": "district", "parent": city})),
        ("API PUT sibling district", 404,
         client.put(f"/api/v1/region/{sibling}", json={"phone": "1"})),
        ("API PUT the city (a visible ancestor)", 403,
         client.put(f"/api/v1/region/{city}", json={"phone": "1"})),
        ("UI edit sibling district", 404,
         client.post(f"/regionmodelview/edit/{sibling}", data={"name": "x"})),
    ]
    for what, want, r in attempts:
        p.status(r, want, what)
    r = client.post(f"/regionmodelview/edit/{city}", data={"name": "越界市"})
    p.status(r, (200, 302), "UI edit the city")
    p.check(sql.rows("SELECT * FROM region ORDER BY id") == snapshot,
            "a refused region write changed the tree")
    r = client.post("/api/v1/region/", json={"code": "320502009", "name": "新街道",
                                              "level": "street",
                                              "parent": sql.region_id("320502")})
    p.status(r, 201, "API POST street in own district")
    p.check(sql.scalar("SELECT count(*) FROM region") == regions + 1, "own street not created")
    p.done("d_cl region writes")


# --- the scoped model defined in the tests ---------------------------------------------

GADGET_CELLS = [
    pytest.param("c_cl11", "c11", True, id="community-own-visible"),
    pytest.param("c_cl11", "c12", False, id="community-sibling-hidden"),
    pytest.param("c_cl11", "s_cl1", False, id="community-parent-hidden"),
    pytest.param("s_cl1", "s_cl1", True, id="street-own-visible"),
    pytest.param("s_cl1", "c11", True, id="street-child-visible"),
    pytest.param("s_cl1", "s_cl2", False, id="street-sibling-hidden"),
    pytest.param("s_cl1", "d_cl", False, id="street-parent-hidden"),
    pytest.param("d_cl", "d_cl", True, id="district-own-visible"),
    pytest.param("d_cl", "s_cl1", True, id="district-child-visible"),
    pytest.param("d_cl", "d_pj", False, id="district-sibling-hidden"),
    pytest.param("d_cl", "city", False, id="district-parent-hidden"),
    pytest.param("city", "city", True, id="city-own-visible"),
    pytest.param("city", "d_pj", True, id="city-child-visible"),
    pytest.param("sup", "c12", True, id="city_supervisor-child-visible"),
]


def gadget_note(sql, pk):
    return sql.scalar("SELECT note FROM test_gadget WHERE id = :i", i=pk)


@pytest.mark.parametrize(("username", "target", "visible"), GADGET_CELLS)
def test_A6_test_model_every_path_follows_the_users_subtree(
        gadgets, app, sql, client_for, username, target, visible):
    p = Problems()
    client = client_for(username)
    pk, name = gadgets[target], f"gadget-{target}"
    prefix = sql.prefix(username)
    in_scope = sql.count("test_gadget", prefix)
    staff = username not in READ_ONLY
    hit = 200 if visible else MISSING
    before = sql.gadget(pk)

    r = client.get("/test-gadget/list/")
    p.check((name in r.get_data(as_text=True)) == visible, f"UI list shows {name}")
    p.check(page_count(r) == in_scope, f"UI list count {page_count(r)} != {in_scope}")
    r = client.get(f"/test-gadget/list/?_flt_0_name={name}")
    p.check(page_count(r) == int(visible), f"UI name filter count {page_count(r)}")
    region = sql.region_id(GADGETS[target])
    r = client.get(f"/test-gadget/list/?_flt_0_region={region}")
    p.check((name in r.get_data(as_text=True)) == visible, "UI region filter shows it")
    p.status(client.get(f"/test-gadget/show/{pk}"), hit, "UI show")
    r = client.get("/api/v1/test-gadget/", query_string={"q": "(page_size:100)"})
    ids = {row["id"] for row in r.json["result"]}
    p.check(r.json["count"] == in_scope, f"API count {r.json['count']} != {in_scope}")
    p.check((pk in ids) == visible, "API list has it")
    p.status(client.get(f"/api/v1/test-gadget/{pk}"), hit, "API GET")

    # Drop-downs: the subtree, plus the names of ancestors (Region's own scope), never a
    # sibling; an ancestor chosen there is refused on write (see the write test).
    subtree = {r[0] for r in sql.rows("SELECT id FROM region WHERE region_path LIKE :p",
                                      p=prefix + "%")}
    allowed = subtree | {r[0] for r in sql.rows(
        "SELECT id FROM region WHERE :q LIKE region_path || '%'", q=prefix)}
    r = client.get("/api/v1/test-gadget/_info", query_string={"q": "(keys:!(add_columns))"})
    got = info_values(r.json, "add_columns", "region")
    p.check(subtree <= got <= allowed, f"API _info region choices {sorted(got)}")
    if staff:
        got = select_options(client.get("/test-gadget/add").get_data(as_text=True), "region")
        p.check(got is not None and subtree <= got <= allowed,
                f"UI add region choices {sorted(got or ())}")

    if not visible:
        mine = gadgets[next(own for user, own, _ in _OWN.values() if user == username)]
        attempts = [
            ("UI edit GET", client.get(f"/test-gadget/edit/{pk}")),
            ("UI edit POST", client.post(f"/test-gadget/edit/{pk}",
                                         data={"name": name, "region": str(region),
                                               "note": "edited"})),
            ("UI action_post", client.post("/test-gadget/action_post",
                                           data={"action": "touch", "rowid": str(pk)})),
            ("UI action_post mixed with an own row", client.post(
                "/test-gadget/action_post",
                data={"action": "touch", "rowid": [str(mine), str(pk)]})),
            ("UI action single", client.post(f"/test-gadget/action/touch/{pk}")),
            ("UI action single GET", client.get(f"/test-gadget/action/touch/{pk}")),
            ("UI delete", client.post(f"/test-gadget/delete/{pk}")),
            ("API PUT", client.put(f"/api/v1/test-gadget/{pk}", json={"note": "put"})),
            ("API DELETE", client.delete(f"/api/v1/test-gadget/{pk}")),
        ]
        for what, r in attempts:
            p.status(r, MISSING, what)
        p.check(sql.gadget(pk) == before, "a refused write changed the hidden gadget")
        p.check(gadget_note(sql, mine) is None, "a mixed action touched the own row")
    elif staff:
        p.status(client.get(f"/test-gadget/edit/{pk}"), 200, "UI edit GET")
        r = client.post("/test-gadget/action_post", data={"action": "touch", "rowid": str(pk)})
        p.status(r, 302, "UI action_post")
        p.check(gadget_note(sql, pk) == "touched", "action_post did not run")
        r = client.post(f"/test-gadget/edit/{pk}",
                        data={"name": name, "region": str(region), "note": "edited"})
        p.status(r, 302, "UI edit POST")
        p.check(gadget_note(sql, pk) == "edited", "UI edit POST did not save")
        r = client.post(f"/test-gadget/action/touch/{pk}")
        p.status(r, 302, "UI action single")
        p.check(gadget_note(sql, pk) == "touched", "single action did not run")
        p.status(client.put(f"/api/v1/test-gadget/{pk}", json={"note": "put"}), 200, "API PUT")
        p.check(gadget_note(sql, pk) == "put", "API PUT did not save")
        p.status(client.delete(f"/api/v1/test-gadget/{pk}"), 200, "API DELETE")
        p.check(sql.gadget(pk)[0] == [], "API DELETE did not delete")
    else:
        p.status(client.post("/test-gadget/action_post",
                             data={"action": "touch", "rowid": str(pk)}), 302,
                 "read-only action_post")
        p.status(client.put(f"/api/v1/test-gadget/{pk}", json={"note": "put"}), (401, 403),
                 "read-only API PUT")
        p.status(client.delete(f"/api/v1/test-gadget/{pk}"), (401, 403),
                 "read-only API DELETE")
        p.check(sql.gadget(pk) == before, "a read-only user changed a gadget")
    p.done(f"{username} → gadget {target}")


# user level → (user, own gadget, [(place, relation, outcome)]); outcome: 201 allowed,
# 422 refused as an unknown related id (sibling), 403 refused by the write guard (parent).
_OWN = {
    "community": ("c_cl11", "c11", [("c11", "own", 201), ("c12", "sibling", 422),
                                    ("s_cl1", "parent", 403)]),
    "street": ("s_cl1", "s_cl1", [("s_cl1", "own", 201), ("c11", "child", 201),
                                  ("s_cl2", "sibling", 422), ("d_cl", "parent", 403)]),
    "district": ("d_cl", "d_cl", [("d_cl", "own", 201), ("s_cl1", "child", 201),
                                  ("d_pj", "sibling", 422), ("city", "parent", 403)]),
    "city": ("city", "city", [("city", "own", 201), ("d_pj", "child", 201)]),
}


@pytest.mark.parametrize("level", list(_OWN))
def test_A6_test_model_cannot_be_created_in_or_moved_to_another_scope(
        gadgets, sql, client_for, level):
    username, own, places = _OWN[level]
    p = Problems()
    client = client_for(username)
    for place, relation, outcome in places:
        region = sql.region_id(GADGETS[place])
        path = sql.path(GADGETS[place])
        total = sql.scalar("SELECT count(*) FROM test_gadget")
        what = f"{relation} ({place})"
        r = client.post("/api/v1/test-gadget/", json={"name": f"api-{place}", "region": region})
        p.status(r, outcome, f"API POST in {what}")
        r = client.post("/test-gadget/add", data={"name": f"ui-{place}", "region": str(region)})
        p.status(r, (200, 302), f"UI add in {what}")
        made = sql.scalar("SELECT count(*) FROM test_gadget WHERE name IN (:a, :b) "
                          "AND region_path = :p", a=f"api-{place}", b=f"ui-{place}", p=path)
        p.check(made == (2 if outcome == 201 else 0), f"create in {what}: {made} rows made")
        if outcome != 201:
            p.check(sql.scalar("SELECT count(*) FROM test_gadget") == total,
                    f"refused create in {what} wrote a row")
        pk = gadgets[own]
        before = sql.gadget(pk)
        r = client.put(f"/api/v1/test-gadget/{pk}", json={"region": region})
        p.status(r, 200 if outcome == 201 else outcome, f"API PUT move to {what}")
        if outcome != 201:
            p.check(sql.gadget(pk) == before, f"refused API move to {what} changed the row")
        r = client.post(f"/test-gadget/edit/{pk}",
                        data={"name": f"gadget-{own}", "region": str(region)})
        p.status(r, (200, 302), f"UI edit move to {what}")
        now = sql.scalar("SELECT region_path FROM test_gadget WHERE id = :i", i=pk)
        if outcome == 201:
            p.check(now == path, f"move to {what}: path {now}")
        else:
            p.check(sql.gadget(pk) == before, f"refused UI move to {what} changed the row")
        # Back home for the next place.
        with sql.app.app_context(), db.engine.begin() as con:
            con.execute(text("UPDATE test_gadget SET region_id = :r, region_path = :p "
                             "WHERE id = :i"), {"r": sql.region_id(GADGETS[own]),
                                                "p": sql.path(GADGETS[own]), "i": pk})
    p.done(f"{username} gadget writes")


def test_A6_unknown_or_forged_references_are_422_never_500(world, gadgets, retiree_payload):
    """A related id that does not exist, is out of scope or is not an id is refused before
    marshmallow can build a phantom row; the path column cannot be written directly."""
    sql, p = world.sql, Problems()
    client = world.login("c_cl11")
    retirees = sql.scalar("SELECT count(*) FROM retiree")
    count = sql.scalar("SELECT count(*) FROM test_gadget")
    for bad in (999999, "abc", -1, True, [1], {"id": 1}, 1.5, 2**31, 2**63, 10**30, "9" * 30,
                "²", "１"):
        r = client.post("/api/v1/retiree/", json=retiree_payload(80, C11) | {"community": bad})
        p.status(r, 422, f"retiree POST community={bad!r}")
        r = client.post("/api/v1/test-gadget/", json={"name": "x", "region": bad})
        p.status(r, 422, f"gadget POST region={bad!r}")
    pk = world.ids["c11"]
    before = sql.retiree(pk)
    forged = {"region_path": sql.path(C12)}
    p.status(client.put(f"/api/v1/retiree/{pk}", json=forged), 422, "PUT region_path")
    r = client.post("/api/v1/retiree/", json=retiree_payload(81, C11) | forged)
    p.status(r, 422, "POST region_path")
    p.check(sql.retiree(pk) == before, "a forged path changed the row")
    p.check(sql.scalar("SELECT count(*) FROM retiree") == retirees, "a refused POST wrote")
    p.check(sql.scalar("SELECT count(*) FROM test_gadget") == count, "a refused POST wrote")
    p.done("forged references")


# --- outside a request ------------------------------------------------------------------


def test_A6_excel_import_creates_and_updates_only_inside_the_subtree(world, retiree_payload,
                                                                      tmp_path):
    """A31: an import runs as a job with the uploader's scope; a row for another scope is
    refused with its reason, whether it is new or names a person registered elsewhere."""
    from core.registry import excel, exchange

    sql, ids = world.sql, world.ids
    prefix = sql.prefix("c_cl11")
    path = tmp_path / "import.xlsx"
    with world.app.app_context():
        people = db.session.scalars(select(Retiree).order_by(Retiree.id)).all()
        rows = [exchange.retiree_row(r) | {"phone": "13900000077"} for r in people]
        for n, community in ((70, C11), (71, C12), (72, None)):
            new = retiree_payload(n, community)
            rows.append(rows[0] | {k: new[k] for k in ("personal_no", "id_card_no", "name")}
                        | {"birth_date": date.fromisoformat(new["birth_date"]),
                           "community": community,
                           "residence_type": new["residence_type"]})
        excel.write_export(path, rows)
        before = {key: sql.retiree(pk) for key, pk in ids.items()}
        with scoped_to(prefix):
            result = exchange.import_retirees(db.session, path, "c_cl11")
        db.session.remove()
    assert (result.created, result.updated, result.failed) == (1, 2, 6), result.summary()
    for key, pk in ids.items():
        phone = sql.scalar("SELECT phone FROM retiree WHERE id = :i", i=pk)
        if key in ("c11", "c11b"):
            assert phone == "13900000077", key
        else:
            assert sql.retiree(pk)[:3] == before[key][:3], f"import changed {key} (out of scope)"
    assert sql.scalar("SELECT count(*) FROM retiree WHERE region_path NOT LIKE :p",
                      p=prefix + "%") == len(ids) - 2




def test_A6_background_code_is_unscoped_unless_it_says_so(world):
    """CLI and jobs run unscoped; ``scoped_to`` limits reads, counts and writes; a request
    whose user is unresolved sees nothing (fail closed)."""
    sql, ids = world.sql, world.ids
    app = world.app
    prefix = sql.prefix("c_cl11")
    with app.app_context():
        assert set(db.session.scalars(select(Retiree.id))) == set(ids.values())
        with scoped_to(prefix):
            assert set(db.session.scalars(select(Retiree.id))) == {ids["c11"], ids["c11b"]}
            assert db.session.scalar(select(func.count()).select_from(Retiree)) == 2
            assert db.session.scalar(
                select(Retiree).where(Retiree.id == ids["c12"])) is None
            with unscoped():
                assert db.session.scalar(select(func.count()).select_from(Retiree)) == 6
        db.session.remove()

        other = db.session.scalar(select(Retiree).where(Retiree.id == ids["c12"]))
        before = sql.retiree(ids["c12"])
        with scoped_to(prefix), pytest.raises(ScopeViolation):
            other.phone = "13900000009"
            db.session.flush()
        db.session.rollback()
        assert sql.retiree(ids["c12"]) == before
        db.session.remove()

    with app.test_request_context("/"):
        assert db.session.scalars(select(Retiree.id)).all() == []
        db.session.remove()
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/retiree/").status_code == 401
    assert anonymous.get(f"/api/v1/retiree/{ids['c11']}").status_code == 401
