"""A44: Wuzhong and Xiangcheng join the pooling area from their merger date, only where
the plugin is enabled; the worklist lists outside residents and changes nobody."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

WUZHONG_COMMUNITY = "320506001001"


@pytest.fixture
def enable(app, client_for):
    def switch(on: bool, code: str = "320506"):
        from core.extensions import db
        from core.regions import region_by_code

        with app.app_context():
            plugins = app.extensions["retiree_admin.plugins"]
            plugins.set_enabled(db.session, "wuzhong_xiangcheng", region_by_code(db.session, code),
                                on, "test")
    return switch


def _set_date(client, district_id, when):
    return client.post("/api/v1/merger_date/", json={"district": district_id,
                                                       "merger_date": when.isoformat()})


def test_A44_disabled_wuzhong_stays_outside_pooling_area(client_for, retiree_payload):
    response = client_for("admin").post("/api/v1/retiree/",
                                        json=retiree_payload(1, WUZHONG_COMMUNITY))
    assert response.status_code == 422
    assert "不在市区统筹范围内" in str(response.json)


def test_A44_enabled_without_date_stays_outside(enable, client_for, retiree_payload):
    enable(True)
    response = client_for("admin").post("/api/v1/retiree/",
                                        json=retiree_payload(1, WUZHONG_COMMUNITY))
    assert response.status_code == 422


def test_A44_inside_pooling_area_from_merger_date(enable, client_for, retiree_payload,
                                                   region_id):
    enable(True)
    admin = client_for("city")
    future = _set_date(admin, region_id("320506"), date.today() + timedelta(days=30))
    assert future.status_code == 201, future.json
    assert admin.post("/api/v1/retiree/",
                      json=retiree_payload(1, WUZHONG_COMMUNITY)).status_code == 422
    pk = future.json["id"]
    assert admin.put(f"/api/v1/merger_date/{pk}",
                     json={"merger_date": date.today().isoformat()}).status_code == 200
    created = admin.post("/api/v1/retiree/", json=retiree_payload(2, WUZHONG_COMMUNITY))
    assert created.status_code == 201, created.json


def test_A44_rule_applies_only_where_enabled(enable, client_for, retiree_payload, region_id):
    """Enabled in 相城区 only: 吴中区's merger date has no effect."""
    enable(True, "320507")
    admin = client_for("city")
    response = _set_date(admin, region_id("320506"), date.today())
    assert response.status_code == 422  # the plugin is off for 吴中
    assert "尚未启用" in str(response.json)
    enable(True, "320506")
    assert _set_date(admin, region_id("320506"), date.today()).status_code == 201
    enable(False, "320506")
    assert admin.post("/api/v1/retiree/",
                      json=retiree_payload(3, WUZHONG_COMMUNITY)).status_code == 422


def test_A44_merger_date_set_by_city_admin_only(enable, client_for, region_id):
    enable(True)
    response = _set_date(client_for("d_wz"), region_id("320506"), date.today())
    assert response.status_code == 422
    assert "市级管理员" in str(response.json)


def test_A44_merger_date_only_for_wuzhong_and_xiangcheng(enable, client_for, region_id):
    enable(True)
    response = _set_date(client_for("city"), region_id("320502"), date.today())
    assert response.status_code == 422


def test_A44_worklist_lists_outside_residents_and_changes_nobody(
        app, enable, client_for, create_retiree, region_id):
    from core.extensions import db
    from core.registry.models import Retiree

    enable(True)
    city = client_for("city")
    pk = create_retiree(5, None, residence_address="苏州市吴中区长桥街道新家桥路8号")
    create_retiree(6, None, residence_address="南京市鼓楼区")
    assert _set_date(city, region_id("320506"), date.today()).status_code == 201
    response = city.post("/merger/worklist/build")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    page = city.get("/merger/worklist/").get_data(as_text=True)
    assert "李四5" in page and "李四6" not in page
    with app.app_context():
        person = db.session.get(Retiree, pk)
        assert person.residence_type == "outside"  # nothing changed silently
    district_view = client_for("d_wz").get("/merger/worklist/").get_data(as_text=True)
    assert "李四5" in district_view
    moved = city.post(f"/retiree/move/{pk}", data={
        "community": str(region_id(WUZHONG_COMMUNITY)), "moved_on": date.today().isoformat(),
        "reason": "并轨后登记为本地人员"})
    assert moved.status_code == 302
    city.post("/merger/worklist/build")
    progress = city.get("/merger/worklist/").get_data(as_text=True)
    assert "李四5" not in progress.split('id="wx-pending"')[1]
    with app.app_context():
        from districts.wuzhong_xiangcheng.models import MergerWorkItem

        item = db.session.scalar(select(MergerWorkItem).where(MergerWorkItem.retiree_id == pk))
        assert item.status == "done"


def test_A44_menu_appears_and_vanishes_without_restart(enable, client_for):
    admin = client_for("d_wz")
    assert "并轨管理" not in admin.get("/").get_data(as_text=True)
    assert admin.get("/merger/worklist/").status_code in (302, 403)
    enable(True)
    assert "并轨管理" in admin.get("/").get_data(as_text=True)
    assert admin.get("/merger/worklist/").status_code == 200
    enable(False)
    assert "并轨管理" not in admin.get("/").get_data(as_text=True)


def test_A44_cli_sets_date_and_builds_worklist(app, enable):
    enable(True)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["merger", "set-date", "320507", date.today().isoformat()])
    assert result.exit_code == 0, result.output
    assert "相城区并轨日期" in result.output
    bad = runner.invoke(args=["merger", "set-date", "320502", "2025-01-01"])
    assert bad.exit_code != 0 and "只适用于" in bad.output
    listing = runner.invoke(args=["merger", "worklist"])
    assert listing.exit_code == 0 and "相城区" in listing.output


def test_A44_worklist_text_and_row_action_agree_and_supervisor_reads_it(
        enable, client_for, create_retiree, region_id):
    """Issue #14 item 21: the text and the row action both name the city centre as the one
    who moves the person; the supervisor reads the list (no build button, no action);
    the district reads it and is told who does the work."""
    enable(True)
    city = client_for("city")
    pk = create_retiree(5, None, residence_address="苏州市吴中区长桥街道新家桥路8号")
    assert _set_date(city, region_id("320506"), date.today()).status_code == 201
    assert city.post("/merger/worklist/build").status_code == 302
    page = city.get("/merger/worklist/").get_data(as_text=True)
    assert "由市退管中心逐一迁入" in page
    assert f'href="/retiree/move/{pk}">迁入居住地社区' in page and "生成 / 更新工作清单" in page
    for user in ("sup", "d_wz"):
        response = client_for(user).get("/merger/worklist/")
        assert response.status_code == 200, user
        seen = response.get_data(as_text=True)
        assert "李四5" in seen and "由市退管中心逐一迁入" in seen and "待市退管中心迁入" in seen
        assert f"/retiree/move/{pk}" not in seen
    supervisor = client_for("sup")
    assert "生成 / 更新工作清单" not in supervisor.get("/merger/worklist/").get_data(as_text=True)
    assert supervisor.post("/merger/worklist/build").status_code in (302, 403)
    assert "A44" not in page
