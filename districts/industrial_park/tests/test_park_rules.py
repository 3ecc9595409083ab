"""P2, F9, A45: where Park units' archives go, the Park outside the pooling area, and the
Park's communities serving the city/district retirees living there."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from districts.industrial_park.tests.conftest import PARK_COMMUNITY
from districts.industrial_park.texts import ARCHIVE_CENTRE

PARK_ADDRESS = "苏州工业园区娄葑街道金鸡湖大道88号"


def _centre(app, path: str, **retiree):
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():
        hook = app.extensions["retiree_admin.plugins"].hook_for(path, db.session)
        return hook.archive_centre_for(retiree=Retiree(name="王五", **retiree))


def test_P2_park_archives_go_to_provident_fund_centre(app, enable, make_enterprise):
    """``archive_centre_for``: a Park unit's retirees (also through a successor) → the
    Park's provident fund management centre; city units keep A21's centres; with the
    plugin off core's A21 answer stands."""
    from core.defaults import GONGTOU_CENTRE, SHEBAO_CENTRE
    from core.extensions import db
    from core.registry.models import Enterprise

    park_unit = make_enterprise()
    closed = make_enterprise("320571002", "园区旧厂", successor=park_unit, status="closed")
    park = "/320500/320571/"
    with app.app_context():
        units = {e.unit_no: e for e in db.session.scalars(select(Enterprise))}
        assert _centre(app, park, category="enterprise",
                       employer=units["320571001"]) == SHEBAO_CENTRE
        enable()
        assert _centre(app, park, category="enterprise",
                       employer=units["320571001"]) == ARCHIVE_CENTRE
        assert _centre(app, park, category="enterprise",
                       employer=db.session.get(Enterprise, closed)) == ARCHIVE_CENTRE
        assert _centre(app, park, category="enterprise",
                       employer=units["320500002"]) == GONGTOU_CENTRE
        assert _centre(app, park, category="self_employed") == SHEBAO_CENTRE


def test_F9_park_outside_pooling_area(app_factory, client_for, retiree_payload, region_id):
    """``is_in_pooling_area``: with the plugin on, the Park stays outside the pooling area
    even where the configuration would put it inside; a Park resident registers as an
    outside resident (F5, A19)."""
    from core.extensions import db
    from core.regions import region_by_code

    config = {"POOLING_AREA_CODES": ["320502", "320503", "320504", "320505", "320590",
                                     "320571"]}
    app = app_factory(**config)
    with app.app_context():
        park = region_by_code(db.session, "320571")
        app.extensions["retiree_admin.plugins"].set_enabled(db.session, "industrial_park", park,
                                                           True, "test")
        hook = app.extensions["retiree_admin.plugins"].hook_for(park.region_path, db.session)
        assert hook.is_in_pooling_area(district=park, on=date.today()) is False
        canglang = region_by_code(db.session, "320502")
        assert app.extensions["retiree_admin.plugins"].hook_for(
            canglang.region_path, db.session).is_in_pooling_area(
                district=canglang, on=date.today()) is True
    admin = client_for("admin", app)
    local = admin.post("/api/v1/retiree/", json=retiree_payload(1, PARK_COMMUNITY))
    assert local.status_code == 422
    assert "工业园区不在市区统筹范围内" in local.json["message"]["community"][0]
    outside = admin.post("/api/v1/retiree/", json=retiree_payload(
        2, None, residence_address=PARK_ADDRESS))
    assert outside.status_code == 201, outside.json


def test_A45_park_communities_serve_city_retirees(app, park, client_for, create_retiree,
                                                  region_id):
    """Outside residents living in the Park are listed for the Park; once assigned, the
    Park community sees them; nobody's registration changes (A19)."""
    from core.extensions import db
    from core.registry.models import Retiree

    lives_in_park = create_retiree(1, None, residence_address=PARK_ADDRESS)
    create_retiree(2, None, residence_address="南京市鼓楼区中山路1号")
    create_retiree(3, residence_address="苏州工业园区某小区")  # a local resident of 沧浪区
    centre = client_for("d_yq")
    built = centre.post("/park-resident/build")
    assert built.status_code == 302
    listed = centre.get("/api/v1/park_resident/").json
    assert [r["name"] for r in listed["result"]] == ["张三"]
    item = listed["result"][0]
    assert item["status"] == "pending" and item["residence_address"] == PARK_ADDRESS
    community = client_for("c_yq")
    assert community.get("/api/v1/park_resident/").json["count"] == 0
    wrong = centre.put(f"/api/v1/park_resident/{item['id']}",
                       json={"community": region_id("320502001001")})
    assert wrong.status_code == 422
    assigned = centre.put(f"/api/v1/park_resident/{item['id']}",
                          json={"community": region_id(PARK_COMMUNITY)})
    assert assigned.status_code == 200, assigned.json
    seen = community.get(f"/api/v1/park_resident/{item['id']}").json["result"]
    assert seen["status"] == "serving" and seen["assigned_by"] == "d_yq"
    assert seen["phone_masked"] == "138****5678" and seen["community"]["name"] == "金鸡湖社区"
    page = community.get("/park-resident/list/").get_data(as_text=True)
    assert "张三" in page and "社区服务中" in page
    assert client_for("c_cl11").get("/api/v1/park_resident/").status_code in (401, 403)
    assert client_for("d_cl").get("/api/v1/park_resident/").status_code in (401, 403)
    with app.app_context():
        person = db.session.get(Retiree, lives_in_park)
        assert person.residence_type == "outside" and person.region_path == "/320500/"


def test_A45_service_ends_when_the_person_registers_locally_or_dies(app, park, client_for,
                                                                   create_retiree):
    from core.extensions import db
    from core.registry import service
    from core.registry.models import Retiree
    from districts.industrial_park.models import ParkResident

    moved = create_retiree(1, None, residence_address=PARK_ADDRESS)
    died = create_retiree(2, None, residence_address="苏州工业园区斜塘街道1号")
    runner = app.test_cli_runner()
    assert "新增 2 人" in runner.invoke(args=["park", "residents"]).output
    assert "新增 0 人" in runner.invoke(args=["park", "residents"]).output
    admin = client_for("admin")
    assert admin.post(f"/retiree/move/{moved}", data={
        "community": str(app_region(app, "320502001001")), "moved_on": date.today().isoformat(),
        "reason": "迁回沧浪区居住"}).status_code == 302
    with app.app_context():
        service.report_death(db.session, db.session.get(Retiree, died), date.today(), "病故",
                             "家属", "test")
        db.session.commit()
    assert "结束 2 人" in runner.invoke(args=["park", "residents"]).output
    with app.app_context():
        reasons = {r.retiree_id: r.end_reason for r in db.session.scalars(select(ParkResident))}
    assert reasons[moved].startswith("已登记为本地人员（沧浪区双塔街道东园社区")
    assert reasons[died] == "已死亡"


def app_region(app, code: str) -> int:
    from core.extensions import db
    from core.regions import region_by_code

    with app.app_context():
        return region_by_code(db.session, code).id
