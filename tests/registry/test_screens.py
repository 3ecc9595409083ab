"""Issue #3: the registry's HTML screens — the form grouped like the paper form, Chinese
messages on refusal, history on the show page, the lifecycle operation forms, the
enterprise and agency screens and the printed form — through the Flask test client."""
from __future__ import annotations

import re
import shutil
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.registry.fields import FORM_FIELDS, SECTIONS
from core.registry.models import EmploymentAgency, Enterprise, Retiree, RetireeHistory
from core.scoping import unscoped
from core.testing import form_data, missing, run


def _retiree(app, pk) -> Retiree:
    with app.app_context(), unscoped():
        r = db.session.get(Retiree, pk)
        db.session.expunge(r)
        return r


def _counts(app) -> tuple[int, int]:
    with app.app_context(), unscoped():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (Retiree, RetireeHistory))


def _text(response) -> str:
    """The page's visible text, tags dropped and whitespace collapsed."""
    html = re.sub(r"(?s)<script.*?</script>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&nbsp;", " ")


def _refused_with(response, *fragments: str) -> None:
    assert response.status_code == 200, (response.status_code, response.headers)
    text = _text(response)
    for fragment in fragments:
        assert fragment in text, (fragment, text[-1500:])


# --------------------------------------------------------------------------- add, edit, show

def test_F1_add_form_grouped_like_the_paper_form(clerk):
    page = clerk.get("/retiree/add")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    starts = [html.find(f">{title}<") if f">{title}<" in html else html.find(title)
              for title in SECTIONS]
    assert all(s >= 0 for s in starts), dict(zip(SECTIONS, starts, strict=True))
    assert starts == sorted(starts), "sections out of the paper form's order"
    bounds = dict(zip(SECTIONS, zip(starts, [*starts[1:], len(html)], strict=True),
                      strict=True))
    for f in FORM_FIELDS:
        at = html.find(f'name="{f.name}"')
        low, high = bounds[f.section]
        assert low < at < high, f"{f.name} ({f.label}) is not under {f.section}"
        assert f.label in html[low:high]


def test_add_with_validation_error_shows_chinese_message_and_writes_nothing(
        app, clerk, client_for, retiree_payload, region_id):
    """The refused form comes back with the Chinese message; nothing is written."""
    good = retiree_payload(1)
    bad_check = good["id_card_no"][:17] + ("0" if good["id_card_no"][17] != "0" else "1")
    before = _counts(app)
    for changes, message in (
            ({"personal_no": "12a45"}, "个人编号只能由数字0–9组成"),
            # F4: too long gets the rule's own words, not the form's generic length text.
            ({"personal_no": "123456789"}, "个人编号最多8位数字，填写的有9位"),
            ({"id_card_no": good["id_card_no"] + "1"}, "身份证号应为18位，填写的是19位"),
            ({"id_card_no": bad_check}, "身份证号校验位不符"),
            ({"gender": "female"}, "与身份证号第17位所示性别“男”不一致"),
            ({"category": "self_employed"}, "须填写托管其档案的就业管理机构"),
            ({"name": "  "}, "姓名不能为空")):
        response = clerk.post("/retiree/add", data=form_data(dict(good, **changes)),
                              follow_redirects=True)
        _refused_with(response, message)
    _refused_with(client_for("admin").post("/retiree/add", data=form_data(
        dict(good, community=str(region_id("320506001001")))), follow_redirects=True),
        "吴中区不在市区统筹范围内")
    # A value outside a drop-down's choices is refused by the form itself: another
    # community than the clerk's own, an out-of-scope category (A40).
    for changes in ({"community": str(region_id("320502001002"))},
                    {"retirement_type": "lixiu"}):
        response = clerk.post("/retiree/add", data=form_data(dict(good, **changes)))
        _refused_with(response)
        assert "alert-danger" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_add_through_the_form(app, clerk, retiree_payload):
    response = clerk.post("/retiree/add", data=form_data(retiree_payload(1, personal_no="777")))
    assert response.status_code == 302, _text(response)[-800:]
    with app.app_context(), unscoped():
        r = db.session.scalar(select(Retiree).where(Retiree.personal_no == "00000777"))
        assert r is not None
        assert (r.name, r.created_by, r.management_state) == ("张三", "c_cl11",
                                                              "employer_managed")
        assert (r.widowed_alone, r.disabled, r.party_cadre, r.form_complete) == \
            (False, False, False, False)
        assert r.region_path == "/320500/320502/320502001/320502001001/"


def test_A32_edit_through_the_form_shown_in_the_history_tab(app, clerk, create, retiree_payload):
    pk = create(1)
    page = clerk.get(f"/retiree/edit/{pk}")
    assert page.status_code == 200
    form = dict(form_data(retiree_payload(1, widowed_alone=True)),
                version=_version(page.get_data(as_text=True)))
    response = clerk.post(f"/retiree/edit/{pk}", data=form)
    assert response.status_code == 302, _text(response)[-800:]
    # The phone changes through its own step, with a reason (issue #12).
    correct = f"/retiree/correct/{pk}"
    response = clerk.post(correct, data={"phone": "13900001111", "reason": "本人更换手机号码"})
    assert response.status_code == 302, _text(response)[-800:]
    r = _retiree(app, pk)
    assert (r.phone, r.widowed_alone, r.updated_by) == ("13900001111", True, "c_cl11")
    show = clerk.get(f"/retiree/show/{pk}")
    assert show.status_code == 200
    text = _text(show)
    assert "138****5678" in text and "139****1111" in text
    assert "13900001111" not in show.get_data(as_text=True)
    assert "c_cl11" in text and "鳏寡" in text and "widowed_alone" not in text
    # Edits refused with the reason, nothing changed.
    before = _counts(app)
    _refused_with(clerk.post(correct, data={"phone": "12345", "reason": "本人更换手机号码"},
                             follow_redirects=True), "联系电话格式不正确")
    assert _retiree(app, pk).phone == "13900001111"
    assert _counts(app) == before


def _row(html: str, name: str) -> str:
    """The form's table row holding the input or drop-down called ``name``."""
    at = html.index(f'name="{name}"')
    return html[html.rfind("<tr", 0, at):html.find("</tr>", at)]


def _selected(html: str, name: str) -> list[str]:
    return re.findall(r'<option selected[^>]*value="([^"]*)"', _row(html, name))


TYPED = {"name": "王小明", "hukou_address": "苏州市平江区临顿路88号",
         "residence_address": "苏州市沧浪区十全街9号", "phone": "13900001111"}


def test_F4_refused_add_form_comes_back_with_the_typed_input(app, clerk, retiree_payload,
                                                             region_id):
    """A rule's refusal shows the form again (200, no redirect) with every value typed
    and the message under the field it concerns; no row is written."""
    good = retiree_payload(1, **TYPED)
    bad_check = good["id_card_no"][:17] + ("0" if good["id_card_no"][17] != "0" else "1")
    before = _counts(app)
    response = clerk.post("/retiree/add", data=form_data(dict(good, personal_no="12a45")))
    assert response.status_code == 200, response.headers
    html = response.get_data(as_text=True)
    for name, value in {**TYPED, "personal_no": "12a45", "birth_date": good["birth_date"],
                        "id_card_no": good["id_card_no"]}.items():
        assert f'value="{value}"' in _row(html, name), (name, _row(html, name))
    assert _selected(html, "gender") == ["male"]
    assert _selected(html, "category") == ["enterprise"]
    assert _selected(html, "community") == [str(region_id("320502001001"))]
    assert "个人编号只能由数字0–9组成" in _row(html, "personal_no")
    assert "未保存" in _text(response)
    # Several rules at once: each message under its own field (F3 on the agency).
    response = clerk.post("/retiree/add", data=form_data(dict(
        good, id_card_no=bad_check, category="self_employed", employer="")))
    html = response.get_data(as_text=True)
    assert "校验位不符" in _row(html, "id_card_no")
    assert "就业管理机构" in _row(html, "custodian_agency")
    assert f'value="{bad_check}"' in _row(html, "id_card_no")
    assert _selected(html, "category") == ["self_employed"]
    assert _counts(app) == before


def test_refused_edit_form_comes_back_with_the_typed_input(app, clerk, create,
                                                           retiree_payload):
    pk = create(1)
    before, row = _counts(app), _retiree(app, pk)
    typed = dict(TYPED, personal_no="12AB")
    del typed["phone"]  # the phone is masked on the edit form and never saved from it
    form = dict(form_data(retiree_payload(1, **typed)), version="1")
    response = clerk.post(f"/retiree/edit/{pk}", data=form)
    assert response.status_code == 200, response.headers
    html = response.get_data(as_text=True)
    for name, value in typed.items():
        assert f'value="{value}"' in _row(html, name), (name, _row(html, name))
    assert "个人编号只能由数字0–9组成" in _row(html, "personal_no")
    after = _retiree(app, pk)
    assert (after.name, after.phone, after.version) == (row.name, row.phone, row.version)
    assert _counts(app) == before


def _version(html: str) -> str:
    return re.search(r'<input[^>]*name="version"[^>]*value="(\d+)"', html).group(1)


def test_stale_edit_form_refused_and_nothing_changes(app, clerk, client_for, create,
                                                     retiree_payload):
    """Optimistic locking on the screen: the edit page carries the row's version in a
    hidden field; saved after someone else's edit, it is refused with a Chinese message,
    the typed input kept; reopened, it saves."""
    pk = create(1)
    opened = _version(clerk.get(f"/retiree/edit/{pk}").get_data(as_text=True))
    assert opened == "1"
    other = client_for("city").put(f"/api/v1/retiree/{pk}", json={"phone": "13700001111"})
    assert other.status_code == 200
    before = _counts(app)
    form = dict(form_data(retiree_payload(1, **TYPED)), version=opened)
    response = clerk.post(f"/retiree/edit/{pk}", data=form)
    assert response.status_code == 200, response.headers
    assert "该记录在您打开之后已被他人修改" in _text(response)
    assert 'value="王小明"' in _row(response.get_data(as_text=True), "name")
    row = _retiree(app, pk)
    assert (row.name, row.phone, row.version) == ("张三", "13700001111", 2)
    assert _counts(app) == before
    reopened = _version(clerk.get(f"/retiree/edit/{pk}").get_data(as_text=True))
    response = clerk.post(f"/retiree/edit/{pk}", data=dict(form, version=reopened))
    assert response.status_code == 302, _text(response)[-800:]
    row = _retiree(app, pk)
    assert (row.name, row.phone, row.version) == ("王小明", "13700001111", 3)


ENGLISH_TITLE = re.compile(r"\b(?:List|Add|Edit|Show) [A-Z][a-z]+")


def test_page_titles_and_labels_in_chinese(client_for, create):
    admin = client_for("admin")
    pk = create(1)
    pages = {"/retiree/list/": "退休人员名册", "/retiree/add": "登记退休人员",
             f"/retiree/edit/{pk}": "修改退休人员信息", f"/retiree/show/{pk}": "退休人员基本信息",
             "/retireehistoryview/list/": "修改记录", "/retireetransferview/list/": "迁移记录",
             "/enterprisemodelview/list/": "参保单位", "/enterprisemodelview/add": "登记参保单位",
             "/employmentagencymodelview/add": "登记就业管理机构"}
    for url, title in pages.items():
        response = admin.get(url)
        assert response.status_code == 200, url
        assert title in _text(response), (url, title)
        assert not ENGLISH_TITLE.findall(response.get_data(as_text=True)), url
    # The history tab of the show and edit pages.
    for url in (f"/retiree/show/{pk}", f"/retiree/edit/{pk}"):
        assert "修改记录" in _text(admin.get(url)), url
    # The REST API's titles and labels (list, show, _info).
    for url in ("/api/v1/retiree/", f"/api/v1/retiree/{pk}", "/api/v1/retiree/_info",
                "/api/v1/enterprise/", "/api/v1/enterprise/1", "/api/v1/enterprise/_info"):
        answer = admin.get(url).json
        titles = [v for k, v in answer.items() if k.endswith("_title")]
        labels = [*answer.get("label_columns", {}).values(),
                  *(c["label"] for k in ("add_columns", "edit_columns")
                    for c in answer.get(k, []))]
        assert titles or labels, url
        assert not [t for t in titles + labels if re.search(r"[A-Za-z]{2}", t)], (url, answer)


def test_A32_history_tab_shows_chinese_labels_not_column_names(app, clerk, create):
    pk = create(1)
    response = clerk.put(f"/api/v1/retiree/{pk}", json={"phone": "13900001111",
                                                        "disabled": True})
    assert response.status_code == 200, response.json
    assert clerk.post(f"/retiree/archive/{pk}", data={"accepted_on": "2024-12-10"}) \
        .status_code == 302
    for url in (f"/retiree/show/{pk}", "/retireehistoryview/list/"):
        text = _text(clerk.get(url))
        for row in ("c_cl11 登记", "c_cl11 修改 联系电话 138****5678 139****1111",
                    "c_cl11 修改 残疾 否 是", "档案移交接收 管理状态 单位管理 社区管理",
                    "档案移交接收 档案移交日期 — 2024-12-10"):
            assert row in text, (url, row)
        for raw in (" phone ", " disabled ", " update ", " create ", " archive ",
                    "management_state", "employer_managed", " None ", " True ", " False "):
            assert raw not in text, (url, raw)


def test_show_page_labels_coded_values_in_chinese(clerk, create):
    pk = create(1)
    text = _text(clerk.get(f"/retiree/show/{pk}"))
    for label in ("男", "退休", "基本养老金", "企业退休", "本地人员", "单位管理"):
        assert label in text, label
    for code in ("basic_pension", "employer_managed", " male ", " enterprise ", " local "):
        assert code not in text, f"the show page shows the code {code!r}, not its label"


# --------------------------------------------------------------------------- operations

def test_A32_move_form_refuses_bad_input_then_moves(app, clerk, create, region_id):
    pk = create(1)
    page = clerk.get(f"/retiree/move/{pk}")
    assert page.status_code == 200 and "迁入社区" in _text(page)
    target = str(region_id("320502002001"))
    before = _counts(app)
    _refused_with(clerk.post(f"/retiree/move/{pk}", data={
        "community": target, "moved_on": "2025-01-10", "reason": ""}), "请填写迁移原因")
    _refused_with(clerk.post(f"/retiree/move/{pk}", data={
        "community": target, "moved_on": "", "reason": "搬家"}), "请填写迁移日期")
    _refused_with(clerk.post(f"/retiree/move/{pk}", data={
        "community": str(region_id("320502001001")), "moved_on": "2025-01-10",
        "reason": "搬家"}), "迁入社区与现所在社区相同")
    _refused_with(clerk.post(f"/retiree/move/{pk}", data={
        "community": str(region_id("320571001001")), "moved_on": "2025-01-10",
        "reason": "搬家"}), "工业园区不在市区统筹范围内")
    assert _counts(app) == before
    response = clerk.post(f"/retiree/move/{pk}", data={
        "community": target, "moved_on": "2025-01-10", "reason": "搬家"})
    assert response.status_code == 302
    assert _retiree(app, pk).community_id == region_id("320502002001")


def test_A16_death_form_refuses_bad_input_then_records_the_death(app, clerk, create):
    pk = create(1)
    assert clerk.get(f"/retiree/death/{pk}").status_code == 200
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    before = _counts(app)
    _refused_with(clerk.post(f"/retiree/death/{pk}", data={
        "death_date": "2025-01-05", "cause": "病故", "reporter": ""}), "请填写报告人")
    _refused_with(clerk.post(f"/retiree/death/{pk}", data={
        "death_date": tomorrow, "cause": "病故", "reporter": "李四"}), "死亡日期不能晚于今天")
    _refused_with(clerk.post(f"/retiree/death/{pk}", data={
        "death_date": "", "cause": "病故", "reporter": "李四"}), "请填写死亡日期")
    assert _counts(app) == before
    response = clerk.post(f"/retiree/death/{pk}", data={
        "death_date": "2025-01-05", "cause": "病故", "reporter": "李四"})
    assert response.status_code == 302
    assert "已死亡" in _text(clerk.get(f"/retiree/show/{pk}"))
    # No further operation on a deceased person.
    _refused_with(clerk.post(f"/retiree/death/{pk}", data={
        "death_date": "2025-01-06", "cause": "病故", "reporter": "李四"}), "不能办理此业务")
    r = _retiree(app, pk)
    assert (r.management_state, r.death_date) == ("deceased", date(2025, 1, 5))


def test_remove_form_needs_a_reason_and_keeps_the_record(app, clerk, create):
    pk = create(1)
    assert clerk.get(f"/retiree/remove/{pk}").status_code == 200
    _refused_with(clerk.post(f"/retiree/remove/{pk}", data={"reason": ""}), "请填写注销原因")
    assert _retiree(app, pk).management_state == "employer_managed"
    assert clerk.post(f"/retiree/remove/{pk}", data={"reason": "重复录入"}).status_code == 302
    _refused_with(clerk.post(f"/retiree/remove/{pk}", data={"reason": "再次"}), "该记录已注销")
    r = _retiree(app, pk)
    assert (r.management_state, r.removed_reason) == ("removed", "重复录入")
    assert clerk.get(f"/retiree/show/{pk}").status_code == 200


def test_A13_archive_form_refuses_bad_input_then_hands_over(app, clerk, create):
    pk = create(1)
    cadre = create(2, party_cadre=True)
    assert clerk.get(f"/retiree/archive/{pk}").status_code == 200
    _refused_with(clerk.post(f"/retiree/archive/{pk}", data={"accepted_on": ""}),
                  "请填写接收日期")
    _refused_with(clerk.post(f"/retiree/archive/{pk}", data={"accepted_on": "2024-13-40"}))
    _refused_with(clerk.post(f"/retiree/archive/{cadre}", data={"accepted_on": "2024-12-10"}),
                  "暂不移交")
    assert _retiree(app, cadre).management_state == "employer_managed"
    response = clerk.post(f"/retiree/archive/{pk}", data={"accepted_on": "2024-12-10"})
    assert response.status_code == 302
    r = _retiree(app, pk)
    assert (r.management_state, r.archive_transferred_on) == ("community_managed",
                                                              date(2024, 12, 10))
    assert "社区管理" in _text(clerk.get(f"/retiree/show/{pk}"))


# --------------------------------------------------------------------------- printing (F1)

def test_F1_print_has_two_copies(app, clerk, client_for, create, enterprise_id, tmp_path):
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext missing: apt-get install -y poppler-utils")
    pk = create(1, employer=enterprise_id("320500002"))  # 破产, 承继: 第一纺织厂
    response = clerk.get(f"/retiree/print/{pk}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    (tmp_path / "form.pdf").write_bytes(response.data)
    text = re.sub(r"\s+", "", run(
        [exe, "-enc", "UTF-8", str(tmp_path / "form.pdf"), "-"], check=True,
        capture_output=True, seconds=60,
        waiting_for="pdftotext to read the printed form").stdout.decode("utf-8"))
    assert "市退管中心留存" in text and "社区留存" in text
    assert text.count("张三") >= 2
    assert "苏州第一纺织厂" in text  # F3: the successor answers for a bankrupt employer
    # Not printable outside the clerk's community.
    assert client_for("c_cl12").get(f"/retiree/print/{pk}").status_code == 404


# --------------------------------------------------------------------------- enterprises, agencies

def test_F3_enterprise_screens_list_and_add(app, client_for, enterprise_id):
    admin = client_for("admin")
    text = _text(admin.get("/enterprisemodelview/list/"))
    assert "苏州红旗机械厂" in text and "破产" in text and "苏州第一纺织厂" in text
    assert admin.get("/enterprisemodelview/add").status_code == 200
    response = admin.post("/enterprisemodelview/add", data={
        "unit_no": "320500077", "name": "苏州长城电器厂", "industry_authority": "市轻工业局",
        "status": "closed", "successor": str(enterprise_id("320500001"))})
    assert response.status_code == 302, _text(response)[-800:]
    assert "苏州长城电器厂" in _text(admin.get("/enterprisemodelview/list/"))
    _refused_with(admin.post("/enterprisemodelview/add", data={
        "unit_no": "320500078", "name": "苏州新光厂", "status": "active",
        "successor": str(enterprise_id("320500001"))}, follow_redirects=True),
        "正常经营的单位不填承继单位")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 3


def test_F3_agency_screens_list_and_add(app, client_for):
    admin = client_for("admin")
    assert "市劳动就业管理服务中心" in _text(admin.get("/employmentagencymodelview/list/"))
    assert admin.get("/employmentagencymodelview/add").status_code == 200
    response = admin.post("/employmentagencymodelview/add", data={
        "code": "JY009", "name": "沧浪区就业管理服务所", "address": "沧浪区人民路1号",
        "phone": "0512-65220000"})
    assert response.status_code == 302, _text(response)[-800:]
    assert "沧浪区就业管理服务所" in _text(admin.get("/employmentagencymodelview/list/"))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EmploymentAgency)) == 2


# --------------------------------------------------------------------------- robustness

def test_garbage_in_list_filters_and_enterprise_text_never_500(app, client_for):
    """Neither a crafted list URL nor control characters in an enterprise's text may break
    a page (PostgreSQL refuses NUL in text and compares booleans strictly)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    admin = client_for("admin")
    wrong = {}
    for query in ("_flt_0_form_complete=abc", "_flt_0_name=%00", "_flt_1_name=a%00b",
                  "_flt_0_birth_date=xyz", "_flt_0_community=abc",
                  f"_flt_0_personal_no={'9' * 5000}"):
        status = admin.get(f"/retiree/list/?{query}").status_code
        if status >= 500:
            wrong[query] = status
    status = admin.post("/enterprisemodelview/add", data={
        "unit_no": "320500088", "name": "苏州\x00电子厂", "status": "active"}).status_code
    if status >= 500:
        wrong["enterprise screen: NUL in name"] = status
    status = admin.post("/api/v1/enterprise/", json={
        "unit_no": "320500089", "name": "苏州\x00电子厂", "status": "active"}).status_code
    if status not in (400, 422):
        wrong["enterprise API: NUL in name"] = status
    with app.app_context():
        stored = db.session.scalars(select(Enterprise.name)).all()
    assert not [name for name in stored if "\x00" in name], stored
    assert not wrong, (
        f"{wrong}: FAB's boolean filter compares the column with the URL text, and NUL "
        "reaches PostgreSQL from list filters and from the enterprise screen and API "
        "(which have no text check like service._BAD_CHARS)")


def test_A32_history_names_employer_and_communities_not_their_ids(
        app, clerk, create, client_for, region_id, enterprise_id):
    """A reference is recorded by id and shown by name; the community a person moved
    from is named to the new community's clerk too, though it lies outside their region."""
    pk = create(1)
    response = clerk.put(f"/api/v1/retiree/{pk}", json={"employer": enterprise_id("320500002")})
    assert response.status_code == 200, response.json
    assert clerk.post(f"/retiree/move/{pk}", data={
        "community": str(region_id("320502002001")), "moved_on": "2025-01-10",
        "reason": "搬家"}).status_code == 302
    text = _text(client_for("c_cl21").get("/retireehistoryview/list/"))
    for row in ("修改 原工作单位 苏州第一纺织厂（320500001） 苏州红旗机械厂（320500002）",
                "迁移 所在社区 沧浪区双塔街道东园社区 沧浪区葑门街道南苑社区"):
        assert row in text, (row, text[text.find("迁移 "):][:300])


# --------------------------------------------------------------------------- employer box

@pytest.fixture
def many_employers(app):
    """Three hundred more insured employers: more than any drop-down should carry."""
    from core.registry.models import Enterprise

    with app.app_context():
        db.session.add_all(Enterprise(unit_no=f"3206{n:05d}", name=f"苏州测试{n:03d}号有限公司")
                           for n in range(300))
        db.session.commit()


def test_employer_box_carries_only_the_chosen_employer(app, clerk, create, many_employers):
    """Issue 7: the add and edit pages and the list's search form do not list every
    employer; the box finds them as the user types."""
    for url in ("/retiree/add", "/retiree/list/"):
        page = clerk.get(url).get_data(as_text=True)
        assert "苏州测试" not in page and "苏州第一纺织厂" not in page, url
    assert 'data-url="/retiree/lookup/employer?form=add"' in clerk.get("/retiree/add").get_data(
        as_text=True)
    pk = create(1)
    edit = clerk.get(f"/retiree/edit/{pk}").get_data(as_text=True)
    assert "苏州测试" not in edit
    assert re.search(r'<option value="\d+" selected>苏州第一纺织厂（320500001）</option>', edit)


def test_employer_lookup_finds_by_unit_number_or_name_at_most_twenty(clerk, many_employers):
    found = clerk.get("/retiree/lookup/employer?term=纺织").json
    assert [r["text"] for r in found["results"]] == ["苏州第一纺织厂（320500001）"]
    assert not found["more"]
    by_number = clerk.get("/retiree/lookup/employer?term=320500002").json["results"]
    assert [r["text"] for r in by_number] == ["苏州红旗机械厂（320500002）"]
    first = clerk.get("/retiree/lookup/employer?term=").json
    assert len(first["results"]) == 20 and first["more"]
    assert clerk.get("/retiree/lookup/employer?term=%25").json["results"] == []  # a literal %


def test_successor_box_on_the_employer_form_finds_by_typing(client_for, many_employers):
    admin = client_for("admin")
    page = admin.get("/enterprisemodelview/add").get_data(as_text=True)
    assert "苏州测试" not in page
    assert 'data-url="/enterprisemodelview/lookup/successor?form=add"' in page
    found = admin.get("/enterprisemodelview/lookup/successor?term=红旗").json["results"]
    assert [r["text"] for r in found] == ["苏州红旗机械厂（320500002）"]


def test_employer_lookup_needs_the_registry_list_permission(app, many_employers):
    anonymous = app.test_client().get("/retiree/lookup/employer?term=纺织")
    assert anonymous.status_code in (302, 401) and "纺织" not in anonymous.get_data(as_text=True)


def test_add_refuses_an_employer_id_that_names_no_employer(app, clerk, retiree_payload):
    before = _counts(app)
    response = clerk.post("/retiree/add", data=form_data(retiree_payload(1, employer=987654)))
    _refused_with(response, "所选原工作单位不存在或不可选")
    for sent in ("abc", "99999999999999999999"):
        _refused_with(clerk.post("/retiree/add", data=form_data(retiree_payload(1, employer=sent))),
                      "所选原工作单位不存在或不可选")
    assert _counts(app) == before


def test_list_filters_by_employer_number_or_name_part(app, clerk, create, enterprise_id):
    textile = [create(n) for n in (1, 2)]
    other = create(3, employer=enterprise_id("320500002"))
    for term in ("纺织", "320500001"):
        page = clerk.get(f"/retiree/list/?_flt_0_employer={term}").get_data(as_text=True)
        shown = {pk for pk in (*textile, other) if f"/retiree/show/{pk}\"" in page}
        assert shown == set(textile), term


def test_agency_lookup_finds_by_code_or_name(clerk):
    for term in ("JY00", "就业管理"):
        found = clerk.get(f"/retiree/lookup/custodian_agency?term={term}").json["results"]
        assert [r["text"] for r in found] == ["市劳动就业管理服务中心"], term
