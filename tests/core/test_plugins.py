"""The plugin manager (issue #2, item 7): discovery, block-list, metadata, per-district
switches on screen and CLI, effect on the next request, dependencies, audit.

The external plugin ``demo_widgets`` (``tests/plugin_fixtures/ra_demo_plugin``) is a
separate distribution: each test that uses it installs it into a temporary folder, the
way pip lays a package out (the package plus a ``.dist-info`` with ``entry_points.txt``),
and puts that folder on ``sys.path``; no core file names it. ``demo_reports`` is a
built-in-style plugin (a package scanned like ``plugins/``) that requires it.
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import sys
import tomllib
from datetime import date
from pathlib import Path

import pluggy
import pytest
from sqlalchemy import func, inspect, select, text

import config
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parent.parent / "plugin_fixtures"
DEMO_DIST = FIXTURES / "ra_demo_plugin"
GROUP = config.PLUGIN_ENTRY_POINT_GROUP
WITH_BUILTIN = [*config.PLUGIN_PACKAGES, "tests.plugin_fixtures.builtin"]
MENU_ITEM = 'href="/demo-widgets/"'


def install_distribution(source: Path, target: Path) -> None:
    """Lay out a pure-Python distribution in ``target`` as pip would: its packages and a
    ``<name>-<version>.dist-info`` whose ``entry_points.txt`` comes from pyproject.toml.
    Offline, and without a build backend (the venv's setuptools has no ``wheel``)."""
    project = tomllib.loads((source / "pyproject.toml").read_text("utf-8"))["project"]
    for package in source.iterdir():
        if (package / "__init__.py").is_file():
            shutil.copytree(package, target / package.name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    dist = project["name"].replace("-", "_")
    info = target / f"{dist}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        "utf-8")
    lines = []
    for group, points in project.get("entry-points", {}).items():
        lines += [f"[{group}]", *(f"{k} = {v}" for k, v in points.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines), "utf-8")


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site-packages")
    install_distribution(DEMO_DIST, site)
    return site


@pytest.fixture
def demo_installed(demo_site, monkeypatch):
    """The external plugin is installed for this test only (sys.path is restored after)."""
    monkeypatch.syspath_prepend(str(demo_site))
    yield
    module = sys.modules.get("ra_demo_plugin")
    if module is not None:
        module.EVENTS.clear()


@pytest.fixture
def demo_app(app_factory, demo_installed):
    """An app with both test plugins, its database upgraded by ``retiree-admin init``
    (which runs the external plugin's own migration branch)."""
    app = app_factory(PLUGIN_PACKAGES=WITH_BUILTIN)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def login(demo_app):
    def make(username: str):
        client = demo_app.test_client()
        response = client.post("/login/", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302 and not response.location.startswith("/login"), \
            f"login failed for {username}"
        return client

    return make


@pytest.fixture
def rid(demo_app):
    """Region code → id."""
    from core.extensions import db
    from core.regions import Region

    def lookup(code: str) -> int:
        with demo_app.app_context():
            return db.session.scalar(select(Region.id).where(Region.code == code))

    return lookup


def switch(client, plugin: str, region: int, enabled: bool, follow: bool = False):
    return client.post("/plugins/switch", follow_redirects=follow,
                       data={"plugin": plugin, "region": region, "enabled": "1" if enabled else "0"})


def settings(app) -> dict[tuple[str, str], bool]:
    from core.extensions import db
    from core.plugins import PluginSetting
    from core.regions import Region

    with app.app_context():
        rows = db.session.execute(
            select(PluginSetting.plugin, Region.code, PluginSetting.enabled)
            .join(Region, Region.id == PluginSetting.region_id)).all()
    return {(p, code): on for p, code, on in rows}


def change_count(app) -> int:
    from core.extensions import db
    from core.plugins import PluginChange

    with app.app_context():
        return db.session.scalar(select(func.count(PluginChange.id)))


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


# --- discovery, block-list, metadata ---------------------------------------------------

def test_external_plugin_discovered_through_entry_point_like_builtin(demo_app, demo_site):
    plugins = demo_app.extensions["retiree_admin.plugins"].plugins
    assert {"demo_widgets", "demo_reports"} <= set(plugins)
    names = {ep.name for ep in importlib.metadata.entry_points(group=GROUP)}
    assert "demo_widgets" in names
    # Loaded from where it was installed, not from the tests' source tree.
    assert Path(plugins["demo_widgets"].module.__file__).is_relative_to(demo_site)
    assert plugins["demo_reports"].module.__name__ == "tests.plugin_fixtures.builtin.demo_reports"


def test_plugin_not_installed_is_not_loaded(app_factory):
    app = app_factory()
    assert "demo_widgets" not in app.extensions["retiree_admin.plugins"].plugins


def test_blocklist_from_config(app_factory, demo_installed):
    app = app_factory(PLUGINS_BLOCKLIST=["demo_widgets"])
    assert "demo_widgets" not in app.extensions["retiree_admin.plugins"].plugins


def test_blocklist_from_environment(app_factory, demo_installed, monkeypatch):
    monkeypatch.setenv("RETIREE_ADMIN_PLUGINS_BLOCKLIST", '["demo_widgets"]')
    app = app_factory()
    assert "demo_widgets" not in app.extensions["retiree_admin.plugins"].plugins
    assert app.config["PLUGINS_BLOCKLIST"] == ["demo_widgets"]


def test_blocking_a_dependency_stops_the_app_naming_it(app_factory, demo_installed):
    with pytest.raises(RuntimeError, match="demo_reports.*demo_widgets"):
        app_factory(PLUGIN_PACKAGES=WITH_BUILTIN, PLUGINS_BLOCKLIST=["demo_widgets"])


def test_misspelt_hook_fails_at_start(app_factory):
    with pytest.raises(pluggy.PluginValidationError, match="validate_retire"):
        app_factory(PLUGIN_PACKAGES=["tests.plugin_fixtures.misspelt"])


def test_every_plugin_declares_metadata(demo_app):
    from core.plugins import PluginInfo

    for name, loaded in demo_app.extensions["retiree_admin.plugins"].plugins.items():
        info = loaded.module.PLUGIN
        assert isinstance(info, PluginInfo) and info.name == name
        assert re.search(r"[\u4e00-\u9fff]", info.title), f"{name}: title must be Chinese"
        assert info.version


def test_shipped_plugins_declare_metadata(app):
    """Every plugin under plugins/ and districts/ loads with a Chinese title and a version."""
    for name, loaded in app.extensions["retiree_admin.plugins"].plugins.items():
        assert re.search(r"[\u4e00-\u9fff]", loaded.info.title), name
        assert loaded.info.version, name


# --- the plugin-manager screen: effect on the next request ----------------------------

def test_off_by_default_menu_hidden_view_and_api_refused(login):
    client = login("d_cl")
    assert MENU_ITEM not in client.get("/").get_data(as_text=True)
    assert client.get("/demo-widgets/").status_code == 403
    assert client.get("/api/v1/demo_widgets/count").status_code == 403


def test_district_admin_enables_for_own_district_only(login, rid, demo_app):
    """``views`` and ``apis``: menu, screen and API follow the district's switch."""
    d_cl, d_pj = login("d_cl"), login("d_pj")
    response = switch(d_cl, "demo_widgets", rid("320502"), True, follow=True)
    assert "已启用插件「演示插件」（沧浪区）" in response.get_data(as_text=True)

    assert MENU_ITEM in d_cl.get("/").get_data(as_text=True)
    assert d_cl.get("/demo-widgets/").status_code == 200
    api = d_cl.get("/api/v1/demo_widgets/count")
    assert api.status_code == 200 and api.json["count"] == 0
    # A street and a community of 沧浪区 reach it too.
    assert login("c_cl11").get("/demo-widgets/").status_code == 200

    assert MENU_ITEM not in d_pj.get("/").get_data(as_text=True)
    assert d_pj.get("/demo-widgets/").status_code == 403
    assert d_pj.get("/api/v1/demo_widgets/count").status_code == 403
    assert login("c_pj11").get("/demo-widgets/").status_code == 403


def test_district_admin_cannot_switch_another_district_or_the_city(login, rid, demo_app):
    d_cl = login("d_cl")
    assert switch(d_cl, "demo_widgets", rid("320503"), True).status_code == 403
    assert switch(d_cl, "demo_widgets", rid("320500"), True).status_code == 403
    assert settings(demo_app) == {}
    assert change_count(demo_app) == 0
    page = d_cl.get("/plugins/").get_data(as_text=True)
    assert "<th>沧浪区</th>" in page and "<th>平江区</th>" not in page


def test_staff_below_district_cannot_switch(login, rid, demo_app):
    client = login("c_cl11")
    assert switch(client, "demo_widgets", rid("320502"), True).status_code == 403
    assert settings(demo_app) == {}


def test_city_admin_switches_any_district_and_the_city(login, rid, demo_app):
    city = login("city")
    page = city.get("/plugins/").get_data(as_text=True)
    for name in ("苏州市", "沧浪区", "平江区", "吴中区", "工业园区"):
        assert name in page
    switch(city, "demo_widgets", rid("320503"), True)
    assert login("d_pj").get("/demo-widgets/").status_code == 200
    assert login("d_cl").get("/demo-widgets/").status_code == 403
    # The city-wide switch reaches every district without a setting of its own …
    switch(city, "demo_widgets", rid("320500"), True)
    assert login("d_cl").get("/demo-widgets/").status_code == 200
    assert login("d_wz").get("/demo-widgets/").status_code == 200
    # … and a district's own setting wins over the city's.
    switch(city, "demo_widgets", rid("320502"), False)
    assert login("d_cl").get("/demo-widgets/").status_code == 403
    assert login("d_wz").get("/demo-widgets/").status_code == 200
    assert settings(demo_app) == {("demo_widgets", "320503"): True,
                                  ("demo_widgets", "320500"): True,
                                  ("demo_widgets", "320502"): False}


def test_city_user_reaches_screens_when_enabled_anywhere_below(login, rid):
    city = login("city")
    assert city.get("/demo-widgets/").status_code == 403
    switch(login("d_wz"), "demo_widgets", rid("320506"), True)
    assert city.get("/demo-widgets/").status_code == 200
    assert MENU_ITEM in city.get("/").get_data(as_text=True)


def test_disabling_hides_and_refuses_but_never_deletes_data(login, rid, demo_app):
    from core.extensions import db

    d_cl = login("d_cl")
    switch(d_cl, "demo_widgets", rid("320502"), True)
    assert d_cl.post("/demo-widgets/note", data={"text": "第一条"}).status_code == 302

    switch(d_cl, "demo_widgets", rid("320502"), False)
    assert MENU_ITEM not in d_cl.get("/").get_data(as_text=True)
    assert d_cl.get("/demo-widgets/").status_code == 403
    assert d_cl.post("/demo-widgets/note", data={"text": "第二条"}).status_code == 403
    assert d_cl.get("/api/v1/demo_widgets/count").status_code == 403
    with demo_app.app_context():
        notes = db.session.execute(text("select text, created_by from test_demo_widget_note"))
        assert notes.all() == [("第一条", "d_cl")]
    assert settings(demo_app) == {("demo_widgets", "320502"): False}
    assert change_count(demo_app) == 2

    switch(d_cl, "demo_widgets", rid("320502"), True)
    assert "第一条" in d_cl.get("/demo-widgets/").get_data(as_text=True)
    assert d_cl.get("/api/v1/demo_widgets/count").json["count"] == 1


def test_unknown_plugin_is_refused_on_screen(login, rid, demo_app):
    response = switch(login("d_cl"), "no_such_plugin", rid("320502"), True, follow=True)
    assert "没有名为 no_such_plugin 的插件" in response.get_data(as_text=True)
    assert change_count(demo_app) == 0


# --- dependencies ------------------------------------------------------------------------

def test_enabling_with_dependency_off_is_refused_naming_it(login, rid, demo_app):
    d_cl = login("d_cl")
    page = switch(d_cl, "demo_reports", rid("320502"), True, follow=True).get_data(as_text=True)
    assert "请先启用本插件依赖的插件：演示插件" in page
    assert settings(demo_app) == {}
    assert change_count(demo_app) == 0

    switch(d_cl, "demo_widgets", rid("320502"), True)
    page = switch(d_cl, "demo_reports", rid("320502"), True, follow=True).get_data(as_text=True)
    assert "已启用插件「演示报表」" in page
    # The dependency cannot now be switched off under it.
    page = switch(d_cl, "demo_widgets", rid("320502"), False, follow=True).get_data(as_text=True)
    assert "以下已启用的插件依赖本插件，请先停用：演示报表" in page
    assert settings(demo_app)[("demo_widgets", "320502")] is True


def test_plugin_for_named_districts_is_refused_elsewhere(login, rid, demo_app):
    """``PluginInfo.regions``: 演示报表 is for 沧浪区 and 平江区 only; not for 吴中区, nor
    switched on city-wide."""
    city = login("city")
    switch(city, "demo_widgets", rid("320500"), True)
    page = switch(city, "demo_reports", rid("320506"), True, follow=True).get_data(as_text=True)
    assert "插件「演示报表」不适用于吴中区" in page
    page = switch(city, "demo_reports", rid("320500"), True, follow=True).get_data(as_text=True)
    assert "插件「演示报表」只能在指定的区启用" in page
    assert "已启用插件「演示报表」（平江区）" in switch(
        city, "demo_reports", rid("320503"), True, follow=True).get_data(as_text=True)
    assert ("demo_reports", "320506") not in settings(demo_app)


# --- the audit trail ---------------------------------------------------------------------

def test_every_change_is_recorded_and_shown(login, rid, demo_app):
    from core.extensions import db
    from core.plugins import PluginChange

    d_cl, city = login("d_cl"), login("city")
    switch(d_cl, "demo_widgets", rid("320502"), True)
    switch(d_cl, "demo_widgets", rid("320502"), False)
    switch(city, "demo_widgets", rid("320503"), True)
    with demo_app.app_context():
        rows = db.session.execute(
            select(PluginChange.changed_by, PluginChange.plugin, PluginChange.old_enabled,
                   PluginChange.new_enabled, PluginChange.changed_at)
            .order_by(PluginChange.id)).all()
    assert [r[:4] for r in rows] == [("d_cl", "demo_widgets", False, True),
                                     ("d_cl", "demo_widgets", True, False),
                                     ("city", "demo_widgets", False, True)]
    assert all(r.changed_at.date() == date.today() for r in rows)

    page = d_cl.get("/plugins/").get_data(as_text=True)
    log = page[page.index('id="ra-plugin-changes"'):]
    assert re.search(r"<td>d_cl</td>\s*<td>沧浪区</td><td>演示插件</td>\s*<td>启用 → 停用</td>", log)
    assert re.search(r"<td>d_cl</td>\s*<td>沧浪区</td><td>演示插件</td>\s*<td>停用 → 启用</td>", log)
    assert "平江区" not in log  # a district admin sees its own district's changes
    assert "<td>city</td>" in city.get("/plugins/").get_data(as_text=True)


# --- rule hooks apply only where the plugin is enabled ----------------------------------

def _post_retiree(client, payload):
    return client.post("/api/v1/retiree/", json=payload)


@pytest.fixture
def payload(demo_app, rid):
    """A valid retiree payload for ``demo_app`` (tests.conftest.retiree_payload's shape)."""
    from core.demo import make_id_card_no
    from core.extensions import db
    from core.registry.models import Enterprise

    with demo_app.app_context():
        employer = db.session.scalar(
            select(Enterprise.id).where(Enterprise.unit_no == "320500001"))

    def make(n: int, community: str, **overrides):
        birth = date(1950, 1, 1 + n % 28)
        body = {
            "personal_no": f"{1000 + n}", "id_card_no": make_id_card_no("320502", birth, n, "male"),
            "name": f"李四{n}", "gender": "male", "birth_date": birth.isoformat(),
            "retirement_date": "2010-01-01", "retirement_type": "retired",
            "benefit": "basic_pension", "category": "enterprise", "employer": employer,
            "residence_type": "local", "community": rid(community), "family_status": "none",
            "serious_illness": "none", "phone": "13812345678",
            "hukou_address": "苏州市吴中区长桥街道1号", "residence_address": "苏州市吴中区长桥街道1号",
        }
        body.update(overrides)
        return body

    return make


def test_F9_pooling_rule_of_a_plugin_applies_only_where_enabled(login, rid, payload):
    """``is_in_pooling_area``: 吴中区 is outside the core pooling area; the demo plugin
    says it is inside, but only where the plugin is on."""
    admin, city = login("admin"), login("city")
    refused = _post_retiree(admin, payload(1, "320506001001"))
    assert refused.status_code == 422
    assert "不在市区统筹范围内" in refused.json["message"]["community"][0]

    switch(city, "demo_widgets", rid("320502"), True)  # on elsewhere: no effect in 吴中区
    assert _post_retiree(admin, payload(2, "320506001001")).status_code == 422

    switch(city, "demo_widgets", rid("320506"), True)
    assert _post_retiree(admin, payload(3, "320506001001")).status_code == 201

    switch(city, "demo_widgets", rid("320506"), False)
    assert _post_retiree(admin, payload(4, "320506001001")).status_code == 422
    # Core's own answer still holds where the plugin has no opinion.
    assert _post_retiree(admin, payload(5, "320503001001")).status_code == 201


def test_validate_retiree_hook_applies_only_where_enabled(login, rid, payload):
    admin = login("admin")
    switch(login("d_cl"), "demo_widgets", rid("320502"), True)
    refused = _post_retiree(admin, payload(1, "320502001001", name="演示拒绝"))
    assert refused.status_code == 422
    assert refused.json["message"]["name"] == ["演示插件拒绝登记此姓名"]
    assert _post_retiree(admin, payload(2, "320503001001", name="演示拒绝")).status_code == 201


def test_A21_archive_centre_default_rule_through_the_hook(demo_app):
    """``archive_centre_for``: core's trylast answer (A21) — 市工投公司 groups to their
    own centre, every other enterprise to the 市社保中心 centre."""
    from core.defaults import GONGTOU_CENTRE, SHEBAO_CENTRE
    from core.extensions import db
    from core.registry.models import Enterprise, Retiree

    registry = demo_app.extensions["retiree_admin.plugins"]
    with demo_app.app_context():
        hook = registry.hook_for("/320500/320502/", db.session)
        for unit_no, centre in (("320500002", GONGTOU_CENTRE), ("320500001", SHEBAO_CENTRE)):
            employer = db.session.scalar(select(Enterprise).where(Enterprise.unit_no == unit_no))
            retiree = Retiree(name="王五", category="enterprise", employer=employer)
            assert hook.archive_centre_for(retiree=retiree) == centre
        assert hook.archive_centre_for(
            retiree=Retiree(name="赵六", category="self_employed")) == SHEBAO_CENTRE


def test_A12_enterprise_agreement_hook_refuses_archive_only_where_enabled(events):
    """By the demo plugin's rule no agreement is in force before 2025: an archive accepted
    in 2024 is refused in 沧浪区, where the plugin is on, and accepted in 平江区."""
    admin, (cl, pj), _ = events
    refused = admin.post(f"/retiree/archive/{cl}", data={"accepted_on": "2024-12-15"},
                         follow_redirects=True).get_data(as_text=True)
    assert "演示插件：苏州第一纺织厂的社会化管理协议自2025年1月1日起生效" in refused
    assert admin.get(f"/api/v1/retiree/{cl}").json["result"]["management_state"] \
        == "employer_managed"
    assert admin.post(f"/retiree/archive/{pj}",
                      data={"accepted_on": "2024-12-15"}).status_code == 302
    assert admin.get(f"/api/v1/retiree/{pj}").json["result"]["management_state"] \
        == "community_managed"


def test_A35_fee_schedule_hook_answers_only_where_enabled(events, demo_app):
    """``fee_schedule``: the demo plugin's schedule for a retiree in 沧浪区, where it is on;
    no answer for one in 平江区 (core has no schedule of its own)."""
    from core.extensions import db
    from core.registry.models import Retiree

    _, (cl, pj), _ = events
    plugins = demo_app.extensions["retiree_admin.plugins"]
    with demo_app.app_context():
        on, off = db.session.get(Retiree, cl), db.session.get(Retiree, pj)
        assert plugins.hook_for(on.region_path, db.session).fee_schedule(retiree=on)["total"] \
            == 500
        assert plugins.hook_for(off.region_path, db.session).fee_schedule(retiree=off) is None


# --- event hooks: called for the retiree's district only ---------------------------------

@pytest.fixture
def events(login, rid, payload):
    """The demo plugin on in 沧浪区 only; one retiree registered there and one in 平江区."""
    import ra_demo_plugin

    switch(login("city"), "demo_widgets", rid("320502"), True)
    admin = login("admin")
    ids = [_post_retiree(admin, payload(n, c, name=name)).json["id"]
           for n, c, name in ((1, "320502001001", "沧浪甲"), (2, "320503001001", "平江乙"))]
    return admin, ids, ra_demo_plugin.EVENTS


def test_retiree_registered_event_only_where_enabled(events):
    _, _, seen = events
    assert seen == [("retiree_registered", "沧浪甲")]


def test_A32_retiree_moved_event(events, rid):
    admin, (cl, _), seen = events
    seen.clear()
    response = admin.post(f"/retiree/move/{cl}", data={
        "community": str(rid("320502002001")), "moved_on": "2025-01-02", "reason": "搬家"})
    assert response.status_code == 302
    assert seen == [("retiree_moved", "沧浪甲")]


def test_A16_retiree_died_event(events):
    admin, (cl, pj), seen = events
    seen.clear()
    for pk in (cl, pj):
        response = admin.post(f"/retiree/death/{pk}", data={
            "death_date": "2025-01-02", "cause": "病故", "reporter": "家属"})
        assert response.status_code == 302
    assert seen == [("retiree_died", "沧浪甲")]


def test_A13_archive_accepted_event(events):
    admin, (cl, pj), seen = events
    seen.clear()
    for pk in (cl, pj):
        response = admin.post(f"/retiree/archive/{pk}", data={"accepted_on": "2025-01-02"})
        assert response.status_code == 302
    assert seen == [("archive_accepted", "沧浪甲")]


def test_A16_retiree_died_event_outside_a_request(events, demo_app):
    """Jobs and the CLI commit outside any request: the events reach plugins there too."""
    from core.extensions import db
    from core.registry import service
    from core.registry.models import Retiree

    _, (cl, _), seen = events
    seen.clear()
    with demo_app.app_context():
        retiree = db.session.get(Retiree, cl)
        service.report_death(db.session, retiree, date(2025, 1, 2), "病故", "家属", "cli")
        db.session.commit()
    assert seen == [("retiree_died", "沧浪甲")]


def test_A31_import_asks_validate_retiree_per_row_and_announces_only_whom_it_registered(
        events, demo_app, payload, tmp_path):
    """An import writes its rows in chunks, yet asks ``validate_retiree`` for every row
    with the plugins of that row's region, and ``retiree_registered`` reaches the plugins
    only for the people it registered (a refused row is never announced)."""
    from core.extensions import db
    from core.registry import excel, exchange

    _, _, seen = events
    seen.clear()

    def row(n: int, community: str, name: str) -> dict:
        body = payload(n, community, name=name)
        return body | {"employer": "320500001", "community": community,
                       "birth_date": date.fromisoformat(body["birth_date"]),
                       "retirement_date": date.fromisoformat(body["retirement_date"])}

    path = tmp_path / "people.xlsx"
    excel.write_export(path, [row(3, "320502001001", "沧浪丙"), row(4, "320502001001", "演示拒绝"),
                              row(5, "320503001001", "演示拒绝"), row(6, "320502001001", "沧浪丁")])
    with demo_app.app_context():
        result = exchange.import_retirees(db.session, str(path), "admin")
    assert (result.created, result.failed) == (3, 1), result.summary()
    assert [(n, reasons) for n, _, reasons in result.errors] == [(3, ["演示插件拒绝登记此姓名"])]
    assert seen == [("retiree_registered", "沧浪丙"), ("retiree_registered", "沧浪丁")]


# --- contribution hooks: migrations, CLI commands ---------------------------------------

def test_migrations_dir_plugin_branch_upgraded_by_init(demo_app):
    from core.extensions import db

    with demo_app.app_context():
        assert inspect(db.engine).has_table("test_demo_widget_note")
        versions = set(db.session.scalars(text("select version_num from alembic_version")))
    assert "demo_widgets_0001" in versions


def test_plugin_branch_absent_without_the_plugin(app):
    from core.extensions import db

    with app.app_context():
        assert not inspect(db.engine).has_table("test_demo_widget_note")


def test_cli_commands_hook_adds_a_command(demo_app):
    result = cli(demo_app, "demo-widgets-hello")
    assert result.exit_code == 0, result.output
    assert "演示插件向您问好" in result.output


# --- the same through the CLI ------------------------------------------------------------

def test_cli_plugins_list_enable_disable(demo_app, login):
    listed = cli(demo_app, "plugins", "list")
    assert listed.exit_code == 0
    assert re.search(r"demo_widgets\t演示插件\t0\.1\.0\t启用：无", listed.output)

    enabled = cli(demo_app, "plugins", "enable", "demo_widgets", "--region", "320502")
    assert enabled.exit_code == 0, enabled.output
    assert "已启用插件 demo_widgets（沧浪区）" in enabled.output
    assert login("d_cl").get("/demo-widgets/").status_code == 200
    assert "启用：沧浪区" in cli(demo_app, "plugins", "list").output

    disabled = cli(demo_app, "plugins", "disable", "demo_widgets", "--region", "320502")
    assert disabled.exit_code == 0, disabled.output
    assert login("d_cl").get("/demo-widgets/").status_code == 403
    assert settings(demo_app) == {("demo_widgets", "320502"): False}
    page = login("d_cl").get("/plugins/").get_data(as_text=True)
    assert re.search(r"<td>cli</td>\s*<td>沧浪区</td><td>演示插件</td>", page)


@pytest.mark.parametrize(("args", "message"), [
    (("enable", "no_such_plugin", "--region", "320502"), "没有名为 no_such_plugin 的插件"),
    (("enable", "demo_widgets", "--region", "999999"), "区域代码 999999 不存在"),
    (("enable", "demo_widgets", "--region", "320502001"), "插件只能按区或全市启用、停用"),
    (("enable", "demo_reports", "--region", "320502"), "请先启用本插件依赖的插件：演示插件"),
    (("disable", "no_such_plugin", "--region", "320502"), "没有名为 no_such_plugin 的插件"),
])
def test_cli_refusals_are_chinese_without_traceback(demo_app, args, message):
    result = cli(demo_app, "plugins", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert change_count(demo_app) == 0


def test_cli_enable_needs_a_region(demo_app):
    result = cli(demo_app, "plugins", "enable", "demo_widgets")
    assert result.exit_code == 2
    assert "--region" in result.output


# --- the contract is documented and tested ----------------------------------------------

def _hook_names() -> list[str]:
    from core import hookspecs

    return [name for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, "retiree_admin_spec")]


def test_every_hook_has_a_docstring():
    from core import hookspecs

    undocumented = [n for n in _hook_names() if not (getattr(hookspecs, n).__doc__ or "").strip()]
    assert not undocumented, f"hooks without a docstring: {undocumented}"


def _tests_naming(root: Path) -> list[tuple[str, str]]:
    """(name, docstring) of every test function in the suite's test modules."""
    found = []
    for folder in ("tests", "plugins", "districts"):
        for path in (root / folder).rglob("test_*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                    found.append((node.name, ast.get_docstring(node) or ""))
    return found


def test_every_hook_has_a_test():
    """A hook is tested when a test names it: in the test's name (``test_A16_retiree_died_
    event``), or in its docstring between double backticks."""
    tests = _tests_naming(Path(__file__).resolve().parents[2])
    untested = [hook for hook in _hook_names() if not any(
        re.search(rf"(^|_){hook}(_|$)", name) or f"``{hook}``" in doc for name, doc in tests)]
    assert len(_hook_names()) >= 10
    assert not untested, f"hooks without a test: {untested}"
