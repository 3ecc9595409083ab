"""A12: an enterprise's retirees enter socialized management only once it has signed the
agreement with the city service centre; recorded, printed and checked where enabled."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.testing import missing

SIGNED = {"status": "signed", "signed_on": "2025-01-10", "party_a_representative": "王建国",
          "party_a_phone": "0512-65001234", "party_b_representative": "李卫东",
          "party_b_phone": "0512-68651234"}


@pytest.fixture
def enable(app):
    def switch(on: bool = True, code: str = "320500", plugin: str = "city_agreement"):
        from core.extensions import db
        from core.regions import region_by_code

        with app.app_context():
            app.extensions["retiree_admin.plugins"].set_enabled(
                db.session, plugin, region_by_code(db.session, code), on, "test")
    return switch


@pytest.fixture
def make_enterprise(app):
    """An enterprise registered in a district (``None``: no district recorded)."""
    def make(unit_no: str, name: str, district: str | None) -> int:
        from core.extensions import db
        from core.regions import region_by_code
        from core.registry.models import Enterprise

        with app.app_context():
            e = Enterprise(unit_no=unit_no, name=name,
                           district=region_by_code(db.session, district) if district else None)
            db.session.add(e)
            db.session.commit()
            return e.id
    return make


def agreement(client, enterprise: int, no: str = "SZ-XY-2025-001", **fields):
    return client.post("/api/v1/city_agreement/",
                       json={"enterprise": enterprise, "document_no": no, **SIGNED, **fields})


def accept(app, retiree_id: int, on: date):
    """Accept the archive through core's service (as the CLI or a job would)."""
    from core.errors import RuleViolations
    from core.extensions import db
    from core.registry import service
    from core.registry.models import Retiree

    with app.app_context():
        r = db.session.get(Retiree, retiree_id)
        try:
            service.accept_archive(db.session, r, on, "test")
        except RuleViolations as exc:
            db.session.rollback()
            return str(exc)
        db.session.commit()
        return True


def state(app, retiree_id: int) -> str:
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():
        return db.session.get(Retiree, retiree_id).management_state


def test_A12_archive_refused_without_city_agreement(app, enable, client_for, create_retiree,
                                                    enterprise_id):
    """``enterprise_agreement``: through the archive screen, refused with a message naming
    the enterprise; accepted once the agreement is signed."""
    today = date.today()
    enable()
    pk = create_retiree(1)
    admin = client_for("admin")
    page = admin.post(f"/retiree/archive/{pk}", data={"accepted_on": today.isoformat()})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "苏州第一纺织厂（单位编号320500001）尚未与市退管中心签订" in text
    assert state(app, pk) == "employer_managed"
    assert agreement(client_for("city"), enterprise_id()).status_code == 201
    done = admin.post(f"/retiree/archive/{pk}", data={"accepted_on": today.isoformat()})
    assert done.status_code == 302
    assert state(app, pk) == "community_managed"


def test_A12_agreement_in_force_from_its_signing_date_until_termination(
        app, enable, client_for, create_retiree, enterprise_id):
    enable()
    a, b, c = (create_retiree(n) for n in (1, 2, 3))
    city = client_for("city")
    created = agreement(city, enterprise_id())
    assert created.status_code == 201, created.json
    refused = accept(app, a, date(2025, 1, 9))
    assert "协议SZ-XY-2025-001自2025-01-10起生效" in refused
    assert accept(app, a, date(2025, 1, 10)) is True
    ended = city.put(f"/api/v1/city_agreement/{created.json['id']}", json={
        "status": "terminated", "terminated_on": "2025-06-30", "termination_reason": "单位注销"})
    assert ended.status_code == 200, ended.json
    assert accept(app, b, date(2025, 6, 29)) is True
    assert "已于2025-06-30终止" in accept(app, c, date(2025, 6, 30))


def test_A12_draft_agreement_is_not_enough(app, enable, client_for, create_retiree,
                                           enterprise_id):
    today = date.today()
    enable()
    pk = create_retiree(1)
    draft = agreement(client_for("city"), enterprise_id(), status="draft", signed_on=None)
    assert draft.status_code == 201, draft.json
    assert "协议SZ-XY-2025-001尚未签订" in accept(app, pk, today)


def test_A12_successor_signs_for_a_bankrupt_enterprise(app, enable, client_for,
                                                       create_retiree, enterprise_id):
    """F3 with A12: a bankrupt unit's retirees are answered for by its successor."""
    today = date.today()
    enable()
    pk = create_retiree(1, employer=enterprise_id("320500002"))
    assert "苏州第一纺织厂" in accept(app, pk, today)
    agreement(client_for("city"), enterprise_id("320500001"))
    assert accept(app, pk, today) is True


def test_A12_checked_only_where_enabled(app, enable, create_retiree):
    """On in 平江区 only: a 沧浪区 resident's archive is accepted without an agreement (an
    enterprise with no district is checked where the retiree lives)."""
    today = date.today()
    enable(True, "320503")
    canglang, pingjiang = create_retiree(1), create_retiree(2, "320503001001")
    assert accept(app, canglang, today) is True
    assert "档案不予接收" in accept(app, pingjiang, today)


def test_A12_community_clerk_accepts_once_signed(app, enable, client_for, create_retiree,
                                                 enterprise_id):
    """The agreement is filed at city level, out of a community clerk's sight; the check
    still finds it."""
    today = date.today()
    enable()
    pk = create_retiree(1)
    agreement(client_for("city"), enterprise_id())
    clerk = client_for("c_cl11")
    assert clerk.get("/api/v1/city_agreement/").json["count"] == 0
    done = clerk.post(f"/retiree/archive/{pk}", data={"accepted_on": today.isoformat()})
    assert done.status_code == 302
    assert state(app, pk) == "community_managed"


def test_A12_park_enterprises_are_not_asked_for_the_city_agreement(
        app, enable, make_enterprise, create_retiree):
    """The Park is outside the pooling area (F9): its enterprises sign the Park agreement
    (P1), so the city plugin gives no answer and leaves it to the Park's plugin."""
    today = date.today()
    from core.extensions import db
    from core.registry.models import Enterprise
    from plugins.city_agreement.agreements import verdict

    enable()
    park = make_enterprise("320571900", "园区新材料有限公司", "320571")
    city = make_enterprise("320502900", "沧浪精密机械厂", "320502")
    with app.app_context():
        assert verdict(db.session, db.session.get(Enterprise, park), today) is None
        assert "沧浪精密机械厂" in verdict(db.session, db.session.get(Enterprise, city), today)
    pk = create_retiree(1, employer=park)
    assert accept(app, pk, today) is True


def test_A12_agreement_parties_dates_and_number_are_validated(enable, client_for,
                                                              enterprise_id):
    today = date.today()
    enable()
    city = client_for("city")
    bad = agreement(city, enterprise_id(), party_a_representative="", party_b_phone="12ab",
                    signed_on=(today + timedelta(days=1)).isoformat())
    assert bad.status_code == 422
    message = bad.json["message"]
    assert message["party_a_representative"] == ["已签订的协议须填写甲方代表"]
    assert "联系电话格式不正确" in message["party_b_phone"][0]
    assert message["signed_on"] == ["签订日期不能晚于今天"]
    first = agreement(city, enterprise_id())
    assert first.status_code == 201
    shown = city.get(f"/api/v1/city_agreement/{first.json['id']}").json["result"]
    assert shown["enterprise"]["unit_no"] == "320500001"
    assert shown["party_b_name"] == "苏州市企业退休人员社会化管理服务中心"
    assert shown["party_a_phone"] == "0512-65001234" and shown["created_by"] == "city"
    again = agreement(city, enterprise_id())
    assert again.json["message"]["document_no"] == ["协议编号SZ-XY-2025-001已存在"]
    overlap = agreement(city, enterprise_id(), no="SZ-XY-2025-002", signed_on="2025-03-01")
    assert overlap.status_code == 422
    assert "SZ-XY-2025-001" in overlap.json["message"]["signed_on"][0]


def test_A12_signed_content_is_fixed_and_termination_needs_date_and_reason(
        enable, client_for, enterprise_id):
    enable()
    city = client_for("city")
    pk = agreement(city, enterprise_id()).json["id"]
    changed = city.put(f"/api/v1/city_agreement/{pk}", json={"party_a_representative": "张三"})
    assert changed.status_code == 422
    assert "不能修改甲方代表" in changed.json["message"]["status"][0]
    bare = city.put(f"/api/v1/city_agreement/{pk}", json={"status": "terminated"})
    assert set(bare.json["message"]) == {"terminated_on", "termination_reason"}
    ok = city.put(f"/api/v1/city_agreement/{pk}", json={
        "status": "terminated", "terminated_on": "2025-02-01", "termination_reason": "单位改制"})
    assert ok.status_code == 200
    back = city.put(f"/api/v1/city_agreement/{pk}", json={"status": "signed",
                                                          "terminated_on": None,
                                                          "termination_reason": None})
    assert back.status_code == 422


def test_A12_agreements_are_seen_where_the_enterprise_is_registered(
        enable, client_for, make_enterprise):
    enable()
    canglang = make_enterprise("320502901", "沧浪丝绸厂", "320502")
    assert agreement(client_for("d_cl"), canglang).status_code == 201
    assert client_for("d_cl").get("/api/v1/city_agreement/").json["count"] == 1
    assert client_for("city").get("/api/v1/city_agreement/").json["count"] == 1
    assert client_for("d_pj").get("/api/v1/city_agreement/").json["count"] == 0
    other = agreement(client_for("d_pj"), canglang, no="PJ-1")
    assert other.status_code == 422
    assert other.json["message"]["enterprise"] == [
        "沧浪丝绸厂不是本辖区注册的单位，其协议由所在区或市退管中心登记"]
    clerk = agreement(client_for("c_cl11"), canglang, no="CL-1")
    assert clerk.status_code == 422
    assert "协议由市、区退管中心登记" in str(clerk.json)


def _pdf_text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        missing("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=True, text=True).stdout
    return "".join(out.split())


def test_A12_printed_agreement_names_parties_unit_no_and_date(enable, client_for,
                                                              enterprise_id, tmp_path):
    enable()
    city = client_for("city")
    pk = agreement(city, enterprise_id()).json["id"]
    response = city.get(f"/city-agreement/print/{pk}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (  # issue 14 item 7
        f'inline; filename="city-agreement-{pk}.pdf"; filename*=UTF-8\'\''
        f"{quote('社会化管理协议-SZ-XY-2025-001.pdf')}")
    text = _pdf_text(response.data, tmp_path)
    for expected in ("企业退休人员社会化管理协议书", "协议编号：SZ-XY-2025-001",
                     "甲方：苏州第一纺织厂（参保单位）", "单位编号：320500001",
                     "乙方：苏州市企业退休人员社会化管理服务中心", "实施细则》第十二条",
                     "一、甲方义务和责任", "二、乙方义务和责任", "甲方代表签字：王建国",
                     "乙方代表签字：李卫东", "联系电话：0512-65001234", "2025年1月10日"):
        assert expected in text, expected
    assert "草稿" not in text
    assert client_for("d_pj").get(f"/city-agreement/print/{pk}").status_code == 404


def test_A12_screens_follow_the_switch_and_add_through_the_form(app, enable, client_for,
                                                                enterprise_id):
    from core.extensions import db
    from plugins.city_agreement.models import CityAgreement

    city = client_for("city")
    assert "社会化管理协议" not in city.get("/").get_data(as_text=True)
    enable()
    assert "社会化管理协议" in city.get("/").get_data(as_text=True)
    form = {"enterprise": str(enterprise_id()), "document_no": "SZ-XY-2025-009",
            "status": "draft"}
    assert city.post("/city-agreement/add", data=form).status_code == 302
    listing = city.get("/city-agreement/list/").get_data(as_text=True)
    assert "SZ-XY-2025-009" in listing and "待签订" in listing
    with app.app_context():
        row = db.session.scalar(select(CityAgreement))
        assert row.party_b_name == "苏州市企业退休人员社会化管理服务中心"
        assert row.region_path == "/320500/"
    enable(False)
    assert city.get("/city-agreement/list/").status_code in (302, 403)


def test_A12_cli_lists_enterprises_without_an_agreement(app, enable, client_for,
                                                        create_retiree, enterprise_id):
    enable()
    create_retiree(1)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["city-agreement", "missing"])
    assert listed.exit_code == 0, listed.output
    assert "320500001\t苏州第一纺织厂\t待移交档案 1 人" in listed.output
    agreement(client_for("city"), enterprise_id())
    assert "共 0 个单位" in runner.invoke(args=["city-agreement", "missing"]).output


def test_A12_charts_count_agreements_by_status_in_scope(app, enable, client_for,
                                                        make_enterprise, enterprise_id):
    """``charts``: counted in SQL in the user's scope."""
    from core.charts import ChartFilters
    from core.extensions import db
    from core.scoping import scoped_to
    from plugins.city_agreement import charts

    enable()
    agreement(client_for("city"), enterprise_id())
    agreement(client_for("d_cl"), make_enterprise("320502901", "沧浪丝绸厂", "320502"),
              no="CL-2025-1", status="draft", signed_on=None)
    (spec,) = charts()
    with app.app_context():
        every = spec.data(db.session, ChartFilters())
        with scoped_to("/320500/320502/"):
            canglang = spec.data(db.session, ChartFilters())
    assert every.categories == ["待签订", "已签订", "已终止"]
    assert every.series[0]["data"] == [1, 1, 0]
    assert canglang.series[0]["data"] == [1, 0, 0]
