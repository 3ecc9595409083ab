"""Enterprises and employment agencies are reference data (issue #12 item 8): streets and
communities read them; city staff change them; district staff change only enterprises
registered in their district; every change is audited. Each test attacks one path and
checks that the row is unchanged."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.security.conftest import csrf_token

ENTERPRISE_FORM = {"unit_no": "320500001", "name": "改名后的纺织厂", "industry_authority": "",
                   "status": "active", "address": "", "contact_person": "", "phone": ""}


def _enterprise(app, unit_no: str = "320500001"):
    from core.extensions import db
    from core.registry.models import Enterprise

    with app.app_context():
        e = db.session.scalar(select(Enterprise).where(Enterprise.unit_no == unit_no))
        return {"id": e.id, "name": e.name, "status": e.status,
                "successor_id": e.successor_id, "district_id": e.district_id}


def _agency_name(app) -> str:
    from core.extensions import db
    from core.registry.models import EmploymentAgency

    with app.app_context():
        return db.session.scalar(select(EmploymentAgency.name))


def _register(app, unit_no: str, district: str | None) -> None:
    from core.extensions import db
    from core.regions import Region
    from core.registry.models import Enterprise

    with app.app_context():
        e = db.session.scalar(select(Enterprise).where(Enterprise.unit_no == unit_no))
        e.district_id = db.session.scalar(select(Region.id).where(Region.code == district)) \
            if district else None
        db.session.commit()


def _api(client, method: str, path: str, **kwargs):
    token = csrf_token(client, "/enterprisemodelview/list/")
    return getattr(client, method)(path, headers={"X-CSRFToken": token}, **kwargs)


def _screen_edit(client, pk: int, **fields):
    path = f"/enterprisemodelview/edit/{pk}"
    return client.post(path, data={"csrf_token": csrf_token(client, "/enterprisemodelview/list/"),
                                   **ENTERPRISE_FORM, **fields})


@pytest.mark.parametrize("clerk", ["c_cl11", "s_cl1"])
def test_community_and_street_clerks_cannot_change_an_enterprise_through_the_api(
        secure_app, login_as, clerk):
    client = login_as(clerk)
    before = _enterprise(secure_app)
    other = _enterprise(secure_app, "320500002")["id"]
    put = _api(client, "put", f"/api/v1/enterprise/{before['id']}",
               json={"name": "改名", "status": "closed", "successor": other})
    assert put.status_code == 403
    post = _api(client, "post", "/api/v1/enterprise/",
                json={"unit_no": "320599999", "name": "社区登记的单位"})
    assert post.status_code == 403
    assert _enterprise(secure_app) == before
    assert client.get(f"/api/v1/enterprise/{before['id']}").status_code == 200


@pytest.mark.parametrize("clerk", ["c_cl11", "s_cl1", "sup"])
def test_clerks_read_enterprises_and_agencies_but_the_screens_refuse_changes(
        secure_app, login_as, clerk):
    client = login_as(clerk)
    before = _enterprise(secure_app)
    listing = client.get("/enterprisemodelview/list/")
    assert listing.status_code == 200
    assert "苏州第一纺织厂" in listing.get_data(as_text=True)
    assert f"/enterprisemodelview/edit/{before['id']}" not in listing.get_data(as_text=True)
    assert client.get("/employmentagencymodelview/list/").status_code == 200
    assert client.get(f"/enterprisemodelview/edit/{before['id']}").status_code != 200
    _screen_edit(client, before["id"], status="closed")
    token = csrf_token(client, "/enterprisemodelview/list/")
    client.post("/employmentagencymodelview/add", data={
        "csrf_token": token, "code": "JY099", "name": "社区登记的机构"})
    assert _enterprise(secure_app) == before
    assert client.get("/employmentagencymodelview/list/?_flt_0_code=JY099").get_data(
        as_text=True).count("社区登记的机构") == 0


def test_district_staff_cannot_edit_another_districts_enterprise(secure_app, login_as):
    _register(secure_app, "320500001", "320503")  # registered in 平江区
    client = login_as("d_cl")  # 沧浪区
    before = _enterprise(secure_app)
    put = _api(client, "put", f"/api/v1/enterprise/{before['id']}", json={"name": "改名"})
    assert put.status_code == 403
    assert "本区" in put.get_json()["message"]
    page = _screen_edit(client, before["id"]).get_data(as_text=True)
    assert "区退管中心只能登记和修改注册在本区的参保单位" in page
    assert _enterprise(secure_app) == before


def test_district_staff_change_their_own_districts_enterprises_only(secure_app, login_as,
                                                                   region_id):
    _register(secure_app, "320500001", "320502")
    client = login_as("d_cl")
    pk = _enterprise(secure_app)["id"]
    assert _api(client, "put", f"/api/v1/enterprise/{pk}",
                json={"name": "沧浪纺织厂"}).status_code == 200
    assert _enterprise(secure_app)["name"] == "沧浪纺织厂"
    # Another district's region is outside their scope (422); no district at all would
    # hand the unit to the city centre (403).
    assert _api(client, "put", f"/api/v1/enterprise/{pk}",
                json={"district": region_id("320503")}).status_code == 422
    assert _api(client, "put", f"/api/v1/enterprise/{pk}",
                json={"district": None}).status_code == 403
    assert _enterprise(secure_app)["district_id"] == region_id("320502")
    # An enterprise registered nowhere (or city-wide) belongs to the city centre.
    unregistered = _enterprise(secure_app, "320500002")
    assert _api(client, "put", f"/api/v1/enterprise/{unregistered['id']}",
                json={"name": "改名"}).status_code == 403
    for district in (region_id("320503"), None):
        refused = _api(client, "post", "/api/v1/enterprise/",
                       json={"unit_no": "320599998", "name": "别处的新厂", "district": district})
        assert refused.status_code in (403, 422)
    assert _api(client, "post", "/api/v1/enterprise/",
                json={"unit_no": "320599997", "name": "沧浪新厂",
                      "district": region_id("320502")}).status_code == 201
    assert _enterprise(secure_app, "320500002") == unregistered


def test_district_staff_cannot_change_employment_agencies(secure_app, login_as):
    client = login_as("d_cl")
    before = _agency_name(secure_app)
    from core.extensions import db
    from core.registry.models import EmploymentAgency

    with secure_app.app_context():
        pk = db.session.scalar(select(EmploymentAgency.id))
    path = f"/employmentagencymodelview/edit/{pk}"
    page = client.post(path, data={"csrf_token": csrf_token(client, path), "code": "JY001",
                                   "name": "区里改的名字", "address": "", "phone": ""})
    assert "就业管理机构由市退管中心维护" in page.get_data(as_text=True)
    assert _agency_name(secure_app) == before


def test_city_change_of_an_enterprise_is_audited(secure_app, login_as, audit):
    client = login_as("city")
    before = _enterprise(secure_app)
    other = _enterprise(secure_app, "320500002")["id"]
    response = _api(client, "put", f"/api/v1/enterprise/{before['id']}",
                    json={"name": "苏州纺织集团", "status": "restructured", "successor": other})
    assert response.status_code == 200, response.get_json()
    entry = [e for e in audit(action="update", object_type="Enterprise")
             if e["object_id"] == str(before["id"])][-1]
    assert entry["actor"] == "city"
    assert entry["detail"]["name"] == ["苏州第一纺织厂", "苏州纺织集团"]
    assert entry["detail"]["status"] == ["active", "restructured"]
    page = _screen_edit(client, before["id"], name="苏州纺织集团二厂", status="restructured",
                        successor=str(other))
    assert page.status_code == 302
    assert audit(action="update", object_type="Enterprise")[-1]["detail"]["name"] == [
        "苏州纺织集团", "苏州纺织集团二厂"]
