"""P1–P4 and A12: the Park agreement, its versions, checklists and originals, its print,
and its place in archive acceptance."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date
from urllib.parse import quote

from sqlalchemy import select

from core.testing import missing
from districts.industrial_park.tests.helpers import PARTY_A, PARTY_B, accept, sign
from districts.industrial_park.texts import PARTY_A_DUTIES, PARTY_B_DUTIES

V = "/api/v1/park_agreement_version"


def test_P1_agreement_parties_and_unit_no(new_agreement, make_enterprise, client_for):
    client, pk, version = new_agreement()
    shown = client.get(f"{V}/{version}").json["result"]
    assert shown["version_no"] == 1 and shown["status"] == "draft"
    assert shown["party_a_name"] == "园区星海电子有限公司"
    assert shown["party_a_unit_no"] == "320571001"
    assert shown["party_b_name"] == "苏州工业园区企业退休人员社会化管理服务中心"
    assert shown["basis"] == "苏园管[2024]44号"
    assert shown["created_by"] == "d_yq"
    city_unit = make_enterprise("320502777", "沧浪五金厂", "320502")
    refused = client.post("/api/v1/park_agreement/", json={"enterprise": city_unit,
                                                           "agreement_no": "YQ-2025-002"})
    assert refused.status_code == 422
    assert refused.json["message"]["enterprise"] == [
        "沧浪五金厂不是工业园区的参保单位；园区协议只与园区参保单位签订"]
    again = client.post("/api/v1/park_agreement/", json={
        "enterprise": client.get(f"/api/v1/park_agreement/{pk}").json["result"]["enterprise"]["id"],
        "agreement_no": "YQ-2025-003"})
    assert "已有园区协议YQ-2025-001" in again.json["message"]["enterprise"][0]
    clerk = client_for("c_yq").post("/api/v1/park_agreement/", json={
        "enterprise": city_unit, "agreement_no": "YQ-2025-004"})
    assert clerk.status_code == 422
    assert "园区协议由园区退管中心或市退管中心办理" in str(clerk.json)


def test_P2_party_a_duties_checklist(new_agreement):
    client, _, version = new_agreement()
    duties = client.get("/api/v1/park_agreement_duty/",
                        query_string={"q": '{"page_size": 100}'}).json["result"]
    a = sorted((d for d in duties if d["party"] == "A"), key=lambda d: d["item_no"])
    assert [d["text"] for d in a] == list(PARTY_A_DUTIES)
    assert "移交给园区公积金管理中心" in a[0]["text"]
    assert {d["status"] for d in a} == {"pending"}
    done = client.put(f"/api/v1/park_agreement_duty/{a[0]['id']}",
                      json={"status": "done", "notes": "档案已整理成册"})
    assert done.status_code == 200, done.json
    shown = client.get(f"/api/v1/park_agreement_duty/{a[0]['id']}").json["result"]
    assert shown["done_on"] == date.today().isoformat() and shown["updated_by"] == "d_yq"


def test_P3_party_b_duties_checklist(new_agreement):
    client, _, version = new_agreement()
    duties = client.get("/api/v1/park_agreement_duty/",
                        query_string={"q": '{"page_size": 100}'}).json["result"]
    b = sorted((d for d in duties if d["party"] == "B"), key=lambda d: d["item_no"])
    assert [d["text"] for d in b] == list(PARTY_B_DUTIES)
    bad = client.put(f"/api/v1/park_agreement_duty/{b[1]['id']}", json={"status": "finished"})
    assert bad.status_code == 422 and "落实情况无效" in bad.json["message"]["status"][0]
    later = client.put(f"/api/v1/park_agreement_duty/{b[1]['id']}",
                       json={"status": "in_progress", "done_on": "2025-01-01"})
    assert later.status_code == 200
    shown = client.get(f"/api/v1/park_agreement_duty/{b[1]['id']}").json["result"]
    assert shown["status"] == "in_progress" and shown["done_on"] is None


def test_P4_in_force_once_both_parties_signed_and_stamped(new_agreement):
    client, pk, version = new_agreement()
    half = client.put(f"{V}/{version}", json=PARTY_A)
    assert half.status_code == 200
    assert client.get(f"{V}/{version}").json["result"]["status"] == "draft"
    unstamped = client.put(f"{V}/{version}", json={**PARTY_B, "party_b_stamped": False})
    assert unstamped.status_code == 200
    assert client.get(f"{V}/{version}").json["result"]["status"] == "draft"
    bad_phone = sign(client, version, party_b_phone="123")
    assert bad_phone.status_code == 422
    assert sign(client, version).status_code == 200
    shown = client.get(f"{V}/{version}").json["result"]
    assert shown["status"] == "in_force" and shown["effective_from"] == "2025-03-05"
    assert client.get(f"/api/v1/park_agreement/{pk}").json["result"]["current_label"] == \
        "第1版（2025-03-05起）"
    locked = client.put(f"{V}/{version}", json={"party_a_representative": "另一人"})
    assert locked.status_code == 422
    assert "第1版已签订生效，不能修改甲方代表" in locked.json["message"]["status"][0]


def test_P4_three_originals_tracked(new_agreement):
    client, _, version = new_agreement()
    originals = client.get("/api/v1/park_agreement_original/").json["result"]
    assert sorted((o["copy_no"], o["holder"], o["filed"]) for o in originals) == [
        (1, "party_a", False), (2, "party_b", False), (3, "party_b", True)]
    by_no = {o["copy_no"]: o["id"] for o in originals}
    early = client.put(f"/api/v1/park_agreement_original/{by_no[1]}",
                       json={"delivered_on": "2025-03-06", "received_by": "周明"})
    assert early.status_code == 422
    assert "尚未经双方签字盖章" in early.json["message"]["delivered_on"][0]
    sign(client, version)
    assert client.put(f"/api/v1/park_agreement_original/{by_no[1]}",
                      json={"delivered_on": "2025-03-06", "received_by": "周明"}).status_code == 200
    unfiled = client.put(f"/api/v1/park_agreement_original/{by_no[3]}",
                         json={"delivered_on": "2025-03-06", "received_by": "档案室"})
    assert unfiled.json["message"]["archive_ref"] == ["存档的正本须填写存档编号"]
    assert client.put(f"/api/v1/park_agreement_original/{by_no[3]}", json={
        "delivered_on": "2025-03-06", "received_by": "档案室", "archive_ref": "YQ-DA-0001"}
    ).status_code == 200
    nobody = client.put(f"/api/v1/park_agreement_original/{by_no[2]}",
                        json={"delivered_on": "2025-03-06"})
    assert nobody.json["message"]["received_by"] == ["请填写接收人"]


def test_P4_new_version_refuses_bad_input(new_agreement):
    """Not a JSON object 400; mistyped or over-long text 422 naming the field; an id beyond
    the column's range 404; nothing is written."""
    client, pk, v1 = new_agreement()
    sign(client, v1)
    path = f"/api/v1/park_agreement/{pk}/new_version"
    for body in ({"data": "revision_reason=x"}, {"json": [1]}):
        answer = client.post(path, **body)
        assert answer.status_code == 400 and answer.json == {"message": "请求内容须为JSON对象"}
    for body, field, text in (({"revision_reason": 5}, "revision_reason", "须为文本"),
                              ({"revision_reason": "调整", "basis": "依" * 101}, "basis",
                               "最多100个字符")):
        answer = client.post(path, json=body)
        assert answer.status_code == 422 and answer.json["message"] == {field: [text]}
    assert client.post("/api/v1/park_agreement/99999999999999999999/new_version",
                       json={"revision_reason": "调整"}).status_code == 404
    assert len(client.get(f"/api/v1/park_agreement/{pk}").json["result"]["versions"]) == 1


def test_P4_new_version_keeps_old(app, new_agreement):
    client, pk, v1 = new_agreement()
    sign(client, v1)
    duties = client.get("/api/v1/park_agreement_duty/",
                        query_string={"q": '{"page_size": 100}'}).json["result"]
    first_a = next(d["id"] for d in duties if d["party"] == "A" and d["item_no"] == 1)
    client.put(f"/api/v1/park_agreement_duty/{first_a}", json={"status": "done",
                                                               "done_on": "2025-04-01"})
    no_reason = client.post(f"/api/v1/park_agreement/{pk}/new_version", json={})
    assert no_reason.status_code == 422
    created = client.post(f"/api/v1/park_agreement/{pk}/new_version",
                          json={"revision_reason": "园区政策调整（苏园管[2025]8号）",
                                "basis": "苏园管[2025]8号"})
    assert created.status_code == 201, created.json
    v2 = created.json["id"]
    assert created.json["version_no"] == 2
    twice = client.post(f"/api/v1/park_agreement/{pk}/new_version",
                        json={"revision_reason": "再次调整"})
    assert "第2版尚未签订" in twice.json["message"]["revision_reason"][0]
    draft = client.get(f"{V}/{v2}").json["result"]
    assert draft["status"] == "draft" and draft["party_a_representative"] == "周明"
    assert draft["basis"] == "苏园管[2025]8号"
    assert client.get(f"{V}/{v1}").json["result"]["status"] == "in_force"
    early = sign(client, v2, a="2025-03-04", b="2025-03-05")
    assert early.status_code == 422  # not after version 1's start
    assert sign(client, v2, a="2025-06-01", b="2025-06-02").status_code == 200
    old, new = client.get(f"{V}/{v1}").json["result"], client.get(f"{V}/{v2}").json["result"]
    assert old["status"] == "superseded" and old["superseded_on"] == "2025-06-02"
    assert old["effective_from"] == "2025-03-05" and old["party_b_representative"] == "陈静"
    assert new["status"] == "in_force" and new["effective_from"] == "2025-06-02"
    assert client.put(f"{V}/{v1}", json={"basis": "改写"}).status_code == 422
    from core.extensions import db
    from districts.industrial_park.models import ParkAgreement, ParkAgreementDuty

    with app.app_context():
        agreement = db.session.get(ParkAgreement, pk)
        assert [v.version_no for v in agreement.versions] == [1, 2]
        assert agreement.version_in_force(date(2025, 6, 1)).version_no == 1
        assert agreement.version_in_force(date(2025, 6, 2)).version_no == 2
        kept = db.session.scalar(select(ParkAgreementDuty).where(
            ParkAgreementDuty.version_id == v2, ParkAgreementDuty.party == "A",
            ParkAgreementDuty.item_no == 1))
        assert kept.status == "done" and kept.done_on == date(2025, 4, 1)


def _pdf_text(pdf: bytes, tmp_path) -> list[str]:
    if shutil.which("pdftotext") is None:
        missing("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "park.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=True, text=True).stdout
    return ["".join(page.split()) for page in out.split("\f") if page.strip()]


def test_P4_printed_agreement_follows_the_original(new_agreement, client_for, tmp_path):
    """Three pages, one per original, each labelled; the structure of the original."""
    client, _, version = new_agreement()
    sign(client, version)
    response = client.get(f"/park-agreement-version/print/{version}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]  # issue 14 item 7
    assert disposition.startswith(f'inline; filename="park-agreement-{version}.pdf"; '
                                  f"filename*=UTF-8''{quote('园区协议-')}"), disposition
    pages = _pdf_text(response.data, tmp_path)
    assert len(pages) == 3
    for page, label in zip(pages, ("正本1/3（甲方留存）", "正本2/3（乙方留存）", "正本3/3（乙方存档）"),
                           strict=True):
        assert label in page and "协议编号：YQ-2025-001第1版" in page
    text = pages[0]
    order = ["苏州工业园区企业退休人员社会化管理协议书",
             "甲方：园区星海电子有限公司（参保单位）单位编号：320571001",
             "乙方：苏州工业园区企业退休人员社会化管理服务中心",
             "（苏园管[2024]44号）精神", "一、甲方义务和责任", "1、按《关于做好苏州工业园区",
             "5、继续关心本单位的退休人员", "二、乙方义务与责任", "4、定期召集甲方及各级退管服务机构",
             "三、本协议一式三份，甲方一份，乙方两份（其中一份存档）。",
             "四、如遇国家、省、市、园区政策调整，可重新修订本协议。",
             "甲方（签章）：", "甲方代表：周明", "乙方代表：陈静",
             "联系电话：0512-62880001", "联系电话：0512-66680002", "2025年3月3日", "2025年3月5日"]
    positions = [text.find(part) for part in order]
    assert -1 not in positions, [p for p, at in zip(order, positions, strict=True) if at < 0]
    assert positions[:11] == sorted(positions[:11])
    assert client_for("d_cl").get(f"/park-agreement-version/print/{version}").status_code in (
        302, 403, 404)


def test_A12_park_agreement_replaces_city_agreement(app, new_agreement, enable, create_retiree,
                                                    client_for):
    """``enterprise_agreement``: for a Park unit the Park agreement decides (tryfirst),
    the city agreement is neither needed nor enough."""
    client, _, version = new_agreement()
    plugins = app.extensions["retiree_admin.plugins"].plugins
    unit = client.get("/api/v1/park_agreement/").json["result"][0]["enterprise"]["id"]
    if "city_agreement" in plugins:
        enable(True, "320500", "city_agreement")
        assert client_for("city").post("/api/v1/city_agreement/", json={
            "enterprise": unit, "document_no": "SZ-XY-9", "status": "signed",
            "signed_on": "2025-01-02", "party_a_representative": "周明",
            "party_b_representative": "李卫东"}).status_code == 201
    pk = create_retiree(1, None, employer=unit)
    refused = accept(app, pk, date(2025, 4, 1))
    assert "园区星海电子有限公司（单位编号320571001）尚未与苏州工业园区企业退休人员社会化管理服务中心" \
        in refused
    assert "第1版尚待甲方、乙方签字盖章" in refused
    sign(client, version)
    assert "自2025-03-05起生效" in accept(app, pk, date(2025, 3, 4))
    assert accept(app, pk, date(2025, 3, 5)) is True


def test_A12_park_rule_applies_only_where_enabled(app, make_enterprise, enable, create_retiree):
    """Off for the Park: no answer for its units; on: city units get no answer from it."""
    from core.extensions import db
    from core.registry.models import Enterprise
    from districts.industrial_park.agreements import verdict

    unit = make_enterprise()
    pk = create_retiree(1, None, employer=unit)
    assert accept(app, pk, date.today()) is True
    enable()
    with app.app_context():
        first = db.session.scalar(select(Enterprise).where(Enterprise.unit_no == "320500001"))
        assert verdict(db.session, first, date.today()) is None
        assert "档案不予接收" in verdict(db.session, db.session.get(Enterprise, unit), date.today())


def test_P1_screens_menu_add_and_new_version(app, park, make_enterprise, client_for):
    from core.extensions import db
    from districts.industrial_park.models import ParkAgreement

    unit = make_enterprise()
    client = client_for("d_yq")
    assert "园区社会化管理协议书" in client.get("/").get_data(as_text=True)
    assert "园区社会化管理协议书" not in client_for("d_cl").get("/").get_data(as_text=True)
    assert 'data-url="/park-agreement/lookup/enterprise?form=add"' in client.get(
        "/park-agreement/add").get_data(as_text=True)
    # The box offers the park's enterprises only, and a posted id of another is refused.
    offered = client.get("/park-agreement/lookup/enterprise?form=add&term=").json["results"]
    assert [r["text"] for r in offered] == ["园区星海电子有限公司（320571001）"]
    other = client.post("/park-agreement/add", data={"enterprise": "1", "agreement_no": "YQ-X"})
    assert "所选甲方（参保单位）不存在或不可选" in other.get_data(as_text=True)
    added = client.post("/park-agreement/add", data={"enterprise": str(unit),
                                                     "agreement_no": "YQ-2025-010"})
    assert added.status_code == 302
    with app.app_context():
        item = db.session.scalar(select(ParkAgreement))
        pk, version = item.id, item.versions[0].id
        assert item.region_path == "/320500/320571/"
    assert "YQ-2025-010" in client.get("/park-agreement/list/").get_data(as_text=True)
    assert added.location.endswith(f"/park-agreement/show/{pk}")
    show = client.get(f"/park-agreement/show/{pk}").get_data(as_text=True)
    assert "新建协议版本" in show and "无生效版本" in show
    assert f'href="/park-agreement-version/edit/{version}">填写签订情况' in show
    edit = client.post(f"/park-agreement-version/edit/{version}", data={
        **{k: v for k, v in PARTY_A.items() if not isinstance(v, bool)},
        **{k: v for k, v in PARTY_B.items() if not isinstance(v, bool)},
        "party_a_signed": "y", "party_a_stamped": "y", "party_b_signed": "y",
        "party_b_stamped": "y", "basis": "苏园管[2024]44号"})
    assert edit.status_code == 302
    shown = client.get(f"/park-agreement-version/show/{version}").get_data(as_text=True)
    assert "生效" in shown and "打印协议书" in shown
    made = client.post(f"/park-agreement/new-version/{pk}",
                       data={"revision_reason": "政策调整", "basis": "苏园管[2025]8号"})
    assert made.status_code == 302 and "/park-agreement-version/edit/" in made.location
    assert client_for("c_yq").get("/park-agreement/list/").status_code == 200
    assert "YQ-2025-010" not in client_for("c_yq").get("/park-agreement/list/").get_data(
        as_text=True)


def test_P4_cli_lists_agreements_with_the_version_in_force(app, new_agreement):
    client, _, version = new_agreement()
    runner = app.test_cli_runner()
    assert "无生效版本" in runner.invoke(args=["park", "agreements"]).output
    sign(client, version)
    out = runner.invoke(args=["park", "agreements", "--on", "2025-03-05"]).output
    assert "YQ-2025-001\t320571001\t园区星海电子有限公司\t第1版生效（2025-03-05起）" in out


def test_P2_P3_charts_count_duties_of_versions_in_force(app, new_agreement):
    """``charts``: the duty checklists of the versions in force, by status."""
    from core.charts import ChartFilters
    from core.extensions import db
    from core.scoping import scoped_to
    from districts.industrial_park import charts

    client, _, version = new_agreement()
    (spec,) = charts()
    with app.app_context():
        assert spec.data(db.session, ChartFilters()).series[0]["data"] == [0, 0, 0, 0]
    sign(client, version)
    with app.app_context():
        data = spec.data(db.session, ChartFilters())
        with scoped_to("/320500/320502/"):
            elsewhere = spec.data(db.session, ChartFilters())
    assert data.categories == ["待落实", "落实中", "已落实", "不适用"]
    assert data.series[0] == {"name": "甲方义务", "data": [5, 0, 0, 0]}
    assert data.series[1] == {"name": "乙方义务", "data": [4, 0, 0, 0]}
    assert elsewhere.series[0]["data"] == [0, 0, 0, 0]


def test_A12_park_agreement_checked_when_a_city_clerk_accepts_the_archive(
        app, new_agreement, create_retiree, client_for):
    """A Park unit's retiree living in 沧浪区: the 沧浪 community clerk accepting the archive
    cannot see the Park's region row, yet the Park agreement must still be asked."""
    client, _, version = new_agreement()
    unit = client.get("/api/v1/park_agreement/").json["result"][0]["enterprise"]["id"]
    pk = create_retiree(1, employer=unit)
    clerk = client_for("c_cl11")
    page = clerk.post(f"/retiree/archive/{pk}", data={"accepted_on": "2025-04-01"})
    assert page.status_code == 200
    assert "尚未与苏州工业园区企业退休人员社会化管理服务中心签订" in page.get_data(as_text=True)
    sign(client, version)
    assert clerk.post(f"/retiree/archive/{pk}",
                      data={"accepted_on": "2025-04-01"}).status_code == 302


def test_P4_half_signed_version_saves_from_the_screen(app, new_agreement):
    """Issue #14 item 21: party A signs first; the form saves (unticked boxes of party B
    are an answer), the version waits for party B and says so; then B signs."""
    from core.extensions import db
    from districts.industrial_park.models import ParkAgreementVersion

    client, pk, version = new_agreement()
    form = {**{k: v for k, v in PARTY_A.items() if not isinstance(v, bool)},
            "party_a_signed": "y", "party_a_stamped": "y"}
    saved = client.post(f"/park-agreement-version/edit/{version}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[-2000:]
    with app.app_context():
        v = db.session.get(ParkAgreementVersion, version)
        assert v.status == "draft" and v.party_a_signed and v.party_a_stamped
        assert not v.party_b_signed and v.party_a_representative == "周明"
    shown = client.get(f"/park-agreement-version/show/{version}").get_data(as_text=True)
    assert "待乙方签订（甲方已签订）" in shown
    page = client.get(f"/park-agreement/show/{pk}").get_data(as_text=True)
    assert "待乙方签订（甲方已签订）" in page and "填写签订情况" in page
    both = {**form, **{k: v for k, v in PARTY_B.items() if not isinstance(v, bool)},
            "party_b_signed": "y", "party_b_stamped": "y"}
    assert client.post(f"/park-agreement-version/edit/{version}", data=both).status_code == 302
    with app.app_context():
        assert db.session.get(ParkAgreementVersion, version).status == "in_force"
    assert "填写签订情况" not in client.get(f"/park-agreement/show/{pk}").get_data(as_text=True)


def _words(pdf: bytes, tmp_path) -> list[tuple[float, float, str]]:
    """(x, y, word) of the first page, in points from the top left (pdftotext -bbox)."""
    import html
    import re

    path = tmp_path / "bbox.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"],
                         capture_output=True, check=True, text=True).stdout
    return [(float(x), float(y), html.unescape(w)) for x, y, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', out)]


def test_P4_printed_agreement_leaves_the_stamp_space_empty(new_agreement, tmp_path):
    """Issue #14 item 21: under 甲方（签章） and 乙方（签章） the page is blank for the seals
    (at least 28 mm, nothing printed there, not even 已盖章), signed or not."""
    if not shutil.which("pdftotext"):
        missing("poppler-utils missing: apt-get install -y poppler-utils")
    client, _, version = new_agreement()
    sign(client, version)
    pdf = client.get(f"/park-agreement-version/print/{version}").data
    words = _words(pdf, tmp_path)
    assert not any("已盖章" in w or "已签字" in w for _, _, w in words)
    for party in ("甲方", "乙方"):
        stamp = next((x, y) for x, y, w in words if w.startswith(f"{party}（签章）"))
        rep = next((x, y) for x, y, w in words if w.startswith(f"{party}代表："))
        assert rep[1] - stamp[1] >= 28 * 72 / 25.4, (stamp, rep)
        between = [w for x, y, w in words
                   if stamp[1] < y < rep[1] and abs(x - stamp[0]) < 150]
        assert between == [], between
