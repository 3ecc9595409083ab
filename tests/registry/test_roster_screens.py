"""Issue 14 items 10–13: the registration form, the person page, the roster and home
page, and the roster's batch work — through the Flask test client, on the real
database, reading the PDFs and the xlsx back."""
from __future__ import annotations

import io
import re
import shutil
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select, update

from core.extensions import db
from core.registry.models import Retiree, RetireeHistory
from core.scoping import unscoped
from core.testing import form_data, missing, run


def _html(response) -> str:
    return response.get_data(as_text=True)


def _text(response) -> str:
    """The page's visible text, tags dropped and whitespace collapsed."""
    html = re.sub(r"(?s)<script.*?</script>", " ", _html(response))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&nbsp;", " ")


def _retiree(app, pk) -> Retiree:
    with app.app_context(), unscoped():
        r = db.session.get(Retiree, pk)
        db.session.expunge(r)
        return r


def _pdf_pages(pdf: bytes, tmp_path) -> list[str]:
    """The text of each page (pdftotext), whitespace removed."""
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext missing: apt-get install -y poppler-utils")
    src = tmp_path / "batch.pdf"
    src.write_bytes(pdf)
    out = run([exe, "-raw", "-enc", "UTF-8", str(src), "-"], check=True, capture_output=True,
              seconds=60, waiting_for="pdftotext to read the batch PDF").stdout
    return [re.sub(r"\s+", "", page) for page in out.decode("utf-8").split("\f")[:-1]]


def _die(clerk, pk, on: str = "2025-01-05") -> None:
    response = clerk.post(f"/retiree/death/{pk}",
                          data={"death_date": on, "cause": "病故", "reporter": "李四"})
    assert response.status_code == 302, _text(response)[-500:]


# --------------------------------------------------------------------------- item 10

def test_add_form_defaults_to_the_clerks_own_community(clerk, client_for, region_id):
    own = region_id("320502001001")
    html = _html(clerk.get("/retiree/add"))
    assert re.search(rf'<option selected value="{own}"|<option value="{own}" selected', html), \
        "a community clerk's new person is not placed in the clerk's community"
    # A city user has no community of their own: nothing is chosen for them.
    city = _html(client_for("city").get("/retiree/add"))
    assert not re.search(r'<option selected value="\d+"|<option value="\d+" selected',
                         city[city.index('name="community"'):][:3000])


def test_add_form_number_boxes_full_width_required_marked_and_id_script(clerk):
    html = _html(clerk.get("/retiree/add"))
    for name in ("id_card_no", "personal_no", "phone"):
        box = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert "form-control" in box, box
    # FAB marks a required field's label with a red *; 姓名 is required, 联系电话 not.
    label = re.compile(r'<label for="(\w+)"[^>]*>[^<]*(<strong[^>]*>&#42;</strong>)?')
    marked = {m.group(1): bool(m.group(2)) for m in label.finditer(html)}
    assert marked["name"] and marked["id_card_no"] and marked["personal_no"], marked
    assert not marked["phone"], marked
    assert "js/ra-idcard.js" in html


def test_operation_forms_mark_required_fields(clerk, create):
    pk = create(1)
    for path, required in ((f"/retiree/move/{pk}", ("迁移日期", "迁移原因")),
                           (f"/retiree/death/{pk}", ("死亡日期", "报告人")),
                           (f"/retiree/remove/{pk}", ("注销原因（仅限录入错误）",)),
                           (f"/retiree/archive/{pk}", ("档案接收日期",))):
        html = _html(clerk.get(path))
        for label in required:
            assert re.search(re.escape(label) + r'<strong class="text-danger" title="必填">',
                             html), (path, label)
    # Optional fields are not marked (死亡原因, 迁入社区).
    html = _html(clerk.get(f"/retiree/death/{pk}"))
    assert not re.search(r'死亡原因<strong class="text-danger"', html)


def test_saving_a_registration_opens_the_new_record_with_print_at_hand(
        app, clerk, retiree_payload):
    response = clerk.post("/retiree/add", data=form_data(retiree_payload(1, personal_no="778")))
    assert response.status_code == 302, _text(response)[-800:]
    with app.app_context(), unscoped():
        pk = db.session.scalar(select(Retiree.id).where(Retiree.personal_no == "00000778"))
    assert response.location.endswith(f"/retiree/show/{pk}")
    page = clerk.get(response.location)
    assert page.status_code == 200
    assert f'href="/retiree/print/{pk}"' in _html(page) and "打印登记表" in _text(page)


# --------------------------------------------------------------------------- item 11

def test_person_page_edit_button_age_and_numbers_in_basic_section(clerk, create):
    pk = create(1)  # born 1950-01-02
    html = _html(clerk.get(f"/retiree/show/{pk}"))
    assert f'href="/retiree/edit/{pk}"' in html and ">编辑<" in html
    today = date.today()
    age = today.year - 1950 - ((today.month, today.day) < (1, 2))
    text = _text(clerk.get(f"/retiree/show/{pk}"))
    assert re.search(rf"年龄 {age}\b", text), text[:2000]
    basic = text[text.index("基本情况"):text.index("单位与档案")]
    assert "身份证号" in basic and "联系电话" in basic and "138****5678" in basic
    assert "13812345678" not in html
    for button in ("迁移", "死亡申报", "档案移交接收"):
        assert f">{button}<" in html


def test_roster_lists_the_age(clerk, create):
    create(1)
    today = date.today()
    age = today.year - 1950 - ((today.month, today.day) < (1, 2))
    text = _text(clerk.get("/retiree/list/"))
    assert "年龄" in text and re.search(rf"张三 男 {age}\b", text), text[-1500:]


def test_A16_deceased_person_has_a_banner_and_no_lifecycle_buttons(clerk, create):
    pk = create(1)
    _die(clerk, pk, "2025-01-05")
    html = _html(clerk.get(f"/retiree/show/{pk}"))
    assert "已于2025-01-05去世" in _text(clerk.get(f"/retiree/show/{pk}"))
    for path in ("move", "death", "archive", "edit", "correct"):
        assert f'href="/retiree/{path}/{pk}"' not in html, path
    assert f'href="/retiree/print/{pk}"' in html  # the record can still be printed


def test_A32_history_shows_the_reason_and_the_actors_display_name_and_no_empty_rows(
        app, clerk, create, retiree_payload):
    from flask_appbuilder.security.sqla.models import User

    with app.app_context():
        db.session.execute(update(User).where(User.username == "c_cl11")
                           .values(first_name="王晓红", last_name=""))
        db.session.commit()
    pk = create(1)
    page = _html(clerk.get(f"/retiree/edit/{pk}"))
    assert 'name="change_reason"' in page
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page) or \
        re.search(r'id="version" name="version" type="hidden" value="(\d+)"', page)
    form = dict(form_data(retiree_payload(1, widowed_alone=True)),
                version=version.group(1), change_reason="本人来社区反映丧偶")
    response = clerk.post(f"/retiree/edit/{pk}", data=form)
    assert response.status_code == 302, _text(response)[-800:]
    with app.app_context(), unscoped():
        rows = db.session.execute(select(RetireeHistory.field, RetireeHistory.reason,
                                         RetireeHistory.actor)
                                  .where(RetireeHistory.retiree_id == pk,
                                         RetireeHistory.action == "update")).all()
    # The form sends every box: the empty 健康状况 (None before) is no change.
    assert [(f, r) for f, r, _ in rows] == [("widowed_alone", "本人来社区反映丧偶")], rows
    text = _text(clerk.get(f"/retiree/show/{pk}"))
    history = text[text.index("修改记录"):]
    assert "本人来社区反映丧偶" in history and "王晓红" in history
    assert "c_cl11" not in text


# --------------------------------------------------------------------------- item 12

def test_default_roster_hides_the_deceased_and_removed_a_switch_shows_them(clerk, create):
    alive, dead, removed = create(1), create(2), create(3)
    _die(clerk, dead)
    assert clerk.post(f"/retiree/remove/{removed}", data={"reason": "重复录入"}).status_code == 302
    html = _html(clerk.get("/retiree/list/"))
    assert f"/retiree/show/{alive}" in html
    assert f"/retiree/show/{dead}" not in html and f"/retiree/show/{removed}" not in html
    assert "显示已故/已注销" in html
    everyone = _html(clerk.get("/retiree/list/?ended=1"))
    for pk in (alive, dead, removed):
        assert f"/retiree/show/{pk}" in everyone
    assert "只显示在册人员" in everyone
    # The export of the list as shown follows the same default.
    book = load_workbook(io.BytesIO(clerk.get("/retiree/export/").data), read_only=True)
    values = {str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row}
    assert "00001001" in values and "00001002" not in values and "00001003" not in values


def test_home_cards_link_to_the_roster_they_count_and_show_the_total(clerk, create):
    create(1)
    create(2)
    dead = create(3)
    _die(clerk, dead)
    html = _html(clerk.get("/"))
    cards = dict(re.findall(
        r'<a class="ra-card" href="([^"]+)"[^>]*>\s*<div>([^<]+)</div><div class="ra-num">',
        html))
    by_label = {label: href.replace("&amp;", "&") for href, label in cards.items()}
    assert set(by_label) == {"在册合计", "单位管理", "社区管理", "已死亡", "登记表未完整"}, html
    total = re.search(r"在册合计</div><div class=\"ra-num\">([\d,]+)<", html).group(1)
    assert total == "2"
    listed = _html(clerk.get(by_label["已死亡"]))
    assert f"/retiree/show/{dead}" in listed and listed.count("/retiree/show/") == 1
    listed = _html(clerk.get(by_label["在册合计"]))
    assert f"/retiree/show/{dead}" not in listed and listed.count("/retiree/show/") == 2


def test_city_and_district_see_the_community_with_district_and_street(client_for, create):
    create(1)
    for user in ("city", "d_cl"):
        # 320502 is 沧浪区 in the tests' city, 姑苏区 in the demo's.
        assert re.search(r" \w+区/双塔街道/东园社区 ", _text(client_for(user).get("/retiree/list/"))), \
            user
    text = _text(client_for("c_cl11").get("/retiree/list/"))
    assert "东园社区" in text and "双塔街道/东园社区" not in text


def test_region_tree_labels_the_users_own_scope(client_for, create):
    create(1)
    create(2)
    html = _html(client_for("s_cl1").get("/regions/tree/"))
    assert re.search(r'class="ra-own-scope">本辖区 2人<', html), html[-2000:]
    assert html.count("本辖区") == 1


# --------------------------------------------------------------------------- item 13

def _batch(client, name: str, pks):
    return client.post("/retiree/action_post", data={"action": name, "rowid": [str(p) for p in pks]})


def test_batch_print_is_one_masked_pdf_of_every_selected_form(app, clerk, create, tmp_path):
    pks = [create(n) for n in (1, 2, 3)]
    response = _batch(clerk, "batch_print", pks)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    pages = _pdf_pages(response.data, tmp_path)
    assert len(pages) == 2 * len(pks)  # F1: two copies per person
    full_ids = [_retiree(app, pk).id_card_no for pk in pks]
    everything = "".join(pages)
    for pk, page in zip(pks, pages[::2], strict=True):
        r = _retiree(app, pk)
        assert r.name in page and r.personal_no in page
    assert not any(no in everything for no in full_ids)
    assert "13812345678" not in everything and "138****5678" in everything
    # Audited as the single print, one event per person.
    from core.audit.models import AuditEntry

    with app.app_context(), unscoped():
        printed = db.session.scalars(select(AuditEntry.object_id)
                                     .where(AuditEntry.action == "person.print")).all()
    assert sorted(map(str, printed)) == sorted(map(str, pks))


def test_batch_contact_cards_one_page_each(clerk, create, tmp_path):
    pks = [create(n) for n in (1, 2)]
    response = _batch(clerk, "batch_card", pks)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = _pdf_pages(response.data, tmp_path)
    assert len(pages) == 2
    assert "张三" in pages[0] and "李四2" in pages[1]


def test_A33_batch_export_writes_the_selection_masked(app, clerk, create):
    pks = [create(n) for n in (1, 2, 3)]
    response = _batch(clerk, "batch_export", pks[:2])
    assert response.status_code == 200, _text(response)[-500:]
    assert response.headers["X-Row-Count"] == "2"
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    values = {str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row}
    assert {"00001001", "00001002"} <= values and "00001003" not in values
    assert _retiree(app, pks[0]).id_card_no not in values
    assert "13812345678" not in values


def test_A13_batch_archive_per_person_with_reasons_and_scope_rechecked(
        app, clerk, client_for, create, create_retiree):
    ok, cadre, dead = create(1), create(2, party_cadre=True), create(3)
    _die(clerk, dead)
    response = _batch(clerk, "batch_archive", [ok, cadre, dead])
    assert response.status_code == 302
    text = _text(clerk.get("/retiree/list/"))
    assert "已接收1人的档案" in text and "未接收2人" in text
    assert "暂不移交" in text and "已死亡" in text
    assert _retiree(app, ok).management_state == "community_managed"
    assert _retiree(app, ok).archive_transferred_on == date.today()
    assert _retiree(app, cadre).management_state == "employer_managed"
    # An id outside the clerk's community (仓街社区) posted with one inside: nothing done.
    inside = create(4)
    outside = create_retiree(5, community="320503001001")
    response = _batch(clerk, "batch_archive", [inside, outside])
    assert response.status_code == 404
    assert _retiree(app, inside).management_state == "employer_managed"
    assert _retiree(app, outside).management_state == "employer_managed"
    for name in ("batch_print", "batch_card", "batch_export"):
        assert _batch(clerk, name, [outside]).status_code == 404, name


def test_batch_size_is_capped_with_a_chinese_message(app, clerk, create):
    pks = [create(n) for n in (1, 2, 3)]
    app.config["BATCH_MAX_ROWS"] = 2
    response = _batch(clerk, "batch_archive", pks)
    assert response.status_code == 302
    assert "一次最多批量处理2人，本次勾选了3人" in _text(clerk.get("/retiree/list/"))
    assert all(_retiree(app, pk).management_state == "employer_managed" for pk in pks)
    response = _batch(clerk, "batch_print", pks)
    assert response.status_code == 302 and response.mimetype != "application/pdf"


def test_batch_actions_need_the_single_screens_permission(client_for, create):
    """The supervisor reads and prints but neither exports nor accepts archives."""
    pk = create(1)
    sup = client_for("sup")
    assert _batch(sup, "batch_print", [pk]).mimetype == "application/pdf"
    for name in ("batch_export", "batch_archive"):
        response = _batch(sup, name, [pk])
        assert response.status_code in (302, 403), (name, response.status_code)
        assert response.mimetype != "application/vnd.openxmlformats-officedocument" \
                                   ".spreadsheetml.sheet"


def test_roster_offers_row_selection_and_only_the_batch_actions_the_user_may_take(
        client_for, create):
    pk = create(1)
    html = _html(client_for("c_cl11").get("/retiree/list/"))
    assert re.search(rf'<input[^>]*name="rowid"[^>]*value="{pk}"', html) or \
        re.search(rf'<input[^>]*value="{pk}"[^>]*name="rowid"', html), html[-3000:]
    for label in ("批量打印登记表", "批量打印联系卡", "导出所选人员（Excel）", "批量接收档案"):
        assert label in html, label
    html = _html(client_for("sup").get("/retiree/list/"))
    assert "批量打印登记表" in html
    assert "批量接收档案" not in html and "导出所选人员" not in html
