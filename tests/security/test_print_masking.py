"""Issue #12 items 1 and 5: printing and editing are unmasks; audit actions say what
happened.

The printed form is masked (ID number, phone) and carries no health data for every
role; the full form needs the unmask permission and a reason and is audited as its own
action. The edit form shows the numbers masked and never saves them; the 更正证件号/电话
step asks for a reason, checks the rules and the version, and is audited. The PDFs are
read back with ``pdftotext`` like the printing tests do."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from core.testing import form_data, missing
from tests.security.conftest import api_login, csrf_token

HEALTH_NOTE = "化疗中"
NEW_PHONE = "13900001111"
REASON = "退休人员本人到窗口办理，核对登记表"


@pytest.fixture(scope="module")
def pdf_text(tmp_path_factory):
    """All the text of a PDF, whitespace dropped (a long number may wrap)."""
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext missing: apt-get install -y poppler-utils")
    src = tmp_path_factory.mktemp("pdf") / "doc.pdf"

    def read(pdf: bytes) -> str:
        assert pdf.startswith(b"%PDF"), pdf[:200]
        src.write_bytes(pdf)
        out = subprocess.run([exe, "-enc", "UTF-8", str(src), "-"], check=True,
                             capture_output=True, timeout=60).stdout
        return re.sub(r"\s+", "", out.decode("utf-8"))

    return read


@pytest.fixture
def person(create_retiree, retiree_payload):
    health = {"serious_illness": "tumour", "health_notes": HEALTH_NOTE}
    return create_retiree(1, **health), retiree_payload(1, **health)


def _masks(app, payload) -> tuple[str, str]:
    from core.registry.validators import mask_id_card, mask_phone

    return mask_id_card(payload["id_card_no"]), mask_phone(payload["phone"])


def _stored(app, pk):
    from core.extensions import db
    from core.registry.models import Retiree
    from core.scoping import unscoped

    with app.app_context(), unscoped():
        r = db.session.get(Retiree, pk)
        return r.id_card_no, r.phone, r.version, r.residence_address


def _assert_masked_pdf(text: str, payload: dict, masks: tuple[str, str]) -> None:
    from core.registry.printing import WITHHELD_TEXT

    assert payload["id_card_no"] not in text and payload["phone"] not in text
    assert HEALTH_NOTE not in text
    assert masks[0] in text and masks[1] in text
    # both health fields of both copies say they were left out
    assert text.count(WITHHELD_TEXT) == 4


# --- printing -----------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["sup", "c_cl11"])
def test_supervisor_and_clerk_print_a_masked_form_without_health_data(
        secure_app, login_as, audit, person, pdf_text, username):
    rid, payload = person
    response = login_as(username).get(f"/retiree/print/{rid}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    _assert_masked_pdf(pdf_text(response.data), payload, _masks(secure_app, payload))
    entry = audit(action="person.print")[-1]
    assert (entry["actor"], entry["object_id"]) == (username, str(rid))
    assert audit(action="person.print_full") == []


@pytest.mark.parametrize("username", ["d_cl", "c_cl11"])
def test_contact_card_carries_no_id_number_phone_or_health_data(
        secure_app, login_as, audit, person, pdf_text, username):
    rid, payload = person
    response = login_as(username).get(f"/retiree/card/{rid}")
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert payload["name"] in text
    for secret in (payload["id_card_no"], payload["phone"], *_masks(secure_app, payload),
                   HEALTH_NOTE, "恶性肿瘤"):
        assert secret not in text
    assert audit(action="person.card")[-1]["actor"] == username


def test_full_print_without_the_unmask_permission_is_refused(secure_app, login_as, audit,
                                                             person):
    rid, payload = person
    client = login_as("sup")
    assert client.get(f"/retiree/print-full/{rid}").status_code == 403
    token = csrf_token(client, "/retiree/list/")
    refused = client.post(f"/retiree/print-full/{rid}",
                          data={"csrf_token": token, "reason": REASON})
    assert refused.status_code == 403
    assert payload["id_card_no"].encode() not in refused.data
    assert audit(action="person.print_full") == []


def test_full_print_is_scoped(secure_app, login_as, person):
    rid, _ = person
    assert login_as("c_pj11").get(f"/retiree/print-full/{rid}").status_code == 404


@pytest.mark.parametrize("reason", ["", "   ", "看看"])
def test_full_print_without_a_reason_is_refused(secure_app, login_as, audit, person, reason):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/print-full/{rid}"
    asked = client.get(path)
    assert asked.status_code == 200 and "打印原因" in asked.get_data(as_text=True)
    refused = client.post(path, data={"csrf_token": csrf_token(client, path),
                                      "reason": reason})
    assert refused.status_code == 200 and refused.mimetype == "text/html"
    page = refused.get_data(as_text=True)
    assert "请说明打印完整登记表的原因" in page or "原因须为4至200个字" in page
    assert payload["id_card_no"] not in page and payload["phone"] not in page
    assert audit(action="person.print_full") == []


def test_full_print_with_a_reason_is_full_and_audited_as_its_own_action(
        secure_app, login_as, audit, person, pdf_text):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/print-full/{rid}"
    response = client.post(path, data={"csrf_token": csrf_token(client, path),
                                       "reason": REASON})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    text = pdf_text(response.data)
    assert payload["id_card_no"] in text and payload["phone"] in text and HEALTH_NOTE in text
    entry = audit(action="person.print_full")[-1]
    assert (entry["actor"], entry["object_type"], entry["object_id"]) == \
        ("c_cl11", "Retiree", str(rid))
    assert entry["detail"] == {"reason": REASON, "health": True}
    assert audit(action="person.print") == []


def test_full_print_leaves_health_data_out_without_the_health_permission(secure_app, person,
                                                                         pdf_text):
    """The full form's health fields follow ``can_read`` on ``RetireeHealth``, not the
    unmask permission (the view passes ``health_visible()``)."""
    from core.extensions import db
    from core.registry.documents import registration_form_for
    from core.registry.models import Retiree
    from core.scoping import unscoped

    rid, payload = person
    with secure_app.test_request_context(), unscoped():
        text = pdf_text(registration_form_for(db.session.get(Retiree, rid), full=True,
                                              health=False))
    assert payload["id_card_no"] in text and HEALTH_NOTE not in text


def test_show_page_offers_each_print_only_to_those_who_may(secure_app, login_as, person):
    rid, _ = person
    clerk = login_as("c_cl11").get(f"/retiree/show/{rid}").get_data(as_text=True)
    for offer in ("打印登记表", f"/retiree/print-full/{rid}", "打印完整登记表",
                  f"/retiree/correct/{rid}"):
        assert offer in clerk
    supervisor = login_as("sup").get(f"/retiree/show/{rid}").get_data(as_text=True)
    assert f"/retiree/print/{rid}" in supervisor
    for offer in (f"/retiree/print-full/{rid}", "打印完整登记表", f"/retiree/correct/{rid}",
                  f"/retiree-unmask/{rid}"):
        assert offer not in supervisor


# --- the edit form and the correction step --------------------------------------------------

def test_edit_form_shows_no_full_id_number_or_phone(secure_app, login_as, audit, person):
    rid, payload = person
    page = login_as("c_cl11").get(f"/retiree/edit/{rid}").get_data(as_text=True)
    assert payload["id_card_no"] not in page and payload["phone"] not in page
    masked_id, masked_phone = _masks(secure_app, payload)
    assert f'value="{masked_id}"' in page and f'value="{masked_phone}"' in page
    assert f"/retiree/correct/{rid}" in page
    entry = audit(action="person.edit")[-1]
    assert (entry["actor"], entry["object_id"]) == ("c_cl11", str(rid))


def test_masked_values_posted_back_by_the_edit_form_change_nothing(secure_app, login_as,
                                                                   person):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/edit/{rid}"
    masked_id, masked_phone = _masks(secure_app, payload)
    response = client.post(path, data=form_data(
        payload, id_card_no=masked_id, phone=masked_phone, residence_address="苏州市沧浪区新址8号",
        version="1", csrf_token=csrf_token(client, path)))
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    id_card_no, phone, version, address = _stored(secure_app, rid)
    assert (id_card_no, phone, address) == (payload["id_card_no"], payload["phone"],
                                           "苏州市沧浪区新址8号")
    assert version == 2


def test_a_full_number_forged_into_the_edit_form_is_not_saved(secure_app, login_as, person,
                                                              retiree_payload):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/edit/{rid}"
    other = retiree_payload(2)
    response = client.post(path, data=form_data(
        payload, id_card_no=other["id_card_no"], phone=NEW_PHONE,
        residence_address="苏州市沧浪区新址9号", version="1",
        csrf_token=csrf_token(client, path)))
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    assert _stored(secure_app, rid) == (payload["id_card_no"], payload["phone"], 2,
                                        "苏州市沧浪区新址9号")


def test_correction_needs_the_unmask_permission(secure_app, login_as, person):
    rid, payload = person
    client = login_as("sup")
    assert client.get(f"/retiree/correct/{rid}").status_code == 403
    response = client.post(f"/retiree/correct/{rid}", data={
        "csrf_token": csrf_token(client, "/retiree/list/"), "phone": NEW_PHONE,
        "reason": REASON})
    assert response.status_code == 403
    assert _stored(secure_app, rid)[1] == payload["phone"]


def test_correction_without_a_reason_changes_nothing(secure_app, login_as, audit, person):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/correct/{rid}"
    page = client.get(path).get_data(as_text=True)
    assert payload["id_card_no"] not in page and payload["phone"] not in page
    assert _masks(secure_app, payload)[0] in page
    response = client.post(path, data={"csrf_token": csrf_token(client, path),
                                       "phone": NEW_PHONE, "reason": ""})
    assert response.status_code == 200
    assert "请说明更正身份证号或联系电话的原因" in response.get_data(as_text=True)
    assert _stored(secure_app, rid)[:3] == (payload["id_card_no"], payload["phone"], 1)
    assert audit(action="person.correct") == []


def test_correction_applies_and_is_audited_with_the_reason(secure_app, login_as, audit,
                                                           person):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/correct/{rid}"
    response = client.post(path, data={"csrf_token": csrf_token(client, path),
                                       "phone": NEW_PHONE, "reason": REASON, "version": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    assert _stored(secure_app, rid)[:3] == (payload["id_card_no"], NEW_PHONE, 2)
    entry = audit(action="person.correct")[-1]
    assert entry["actor"] == "c_cl11" and entry["object_id"] == str(rid)
    assert entry["detail"] == {"reason": REASON, "fields": ["phone"]}
    assert NEW_PHONE not in str(audit())


def test_F4_corrected_id_number_passes_the_rules_and_stays_unique(secure_app, login_as,
                                                                  person, create_retiree,
                                                                  retiree_payload):
    rid, payload = person
    create_retiree(2)
    client = login_as("c_cl11")
    path = f"/retiree/correct/{rid}"
    token = csrf_token(client, path)
    bad_check = payload["id_card_no"][:-1] + ("0" if payload["id_card_no"][-1] != "0" else "1")
    for wrong in (bad_check, retiree_payload(2)["id_card_no"]):
        response = client.post(path, data={"csrf_token": token, "id_card_no": wrong,
                                           "reason": REASON})
        assert response.status_code == 200
        assert "未保存" in response.get_data(as_text=True)
        assert _stored(secure_app, rid)[:3] == (payload["id_card_no"], payload["phone"], 1)
    # A lower-case check character is the same number, normalised by the rules.
    if payload["id_card_no"].endswith("X"):
        response = client.post(path, data={"csrf_token": token, "reason": REASON,
                                           "id_card_no": payload["id_card_no"].lower()})
        assert response.status_code == 302


def test_stale_correction_is_refused(secure_app, login_as, client_for, person):
    rid, payload = person
    client = login_as("c_cl11")
    path = f"/retiree/correct/{rid}"
    token = csrf_token(client, path)
    with_version = client.get(path).get_data(as_text=True)
    assert re.search(r'name="version"[^>]*value="1"', with_version)
    other = login_as("city")
    changed = other.put(f"/api/v1/retiree/{rid}", json={"residence_address": "苏州市沧浪区新址9号"},
                        headers={"X-CSRFToken": csrf_token(other, "/retiree/list/")})
    assert changed.status_code == 200, changed.json
    response = client.post(path, data={"csrf_token": token, "phone": NEW_PHONE,
                                       "reason": REASON, "version": "1"})
    assert "该记录在您打开之后已被他人修改" in response.get_data(as_text=True)
    assert _stored(secure_app, rid)[1] == payload["phone"]


# --- the API follows the same principle ------------------------------------------------------

def test_api_masked_values_sent_back_change_nothing(secure_app, login_as, audit, person):
    rid, payload = person
    client = login_as("c_cl11")
    headers = {"X-CSRFToken": csrf_token(client, "/retiree/list/")}
    shown = client.get(f"/api/v1/retiree/{rid}").json["result"]
    response = client.put(f"/api/v1/retiree/{rid}", headers=headers, json={
        "id_card_no": shown["id_card_masked"], "phone": shown["phone_masked"],
        "residence_address": "苏州市沧浪区新址8号"})
    assert response.status_code == 200, response.json
    assert _stored(secure_app, rid)[:2] == (payload["id_card_no"], payload["phone"])
    assert audit(action="person.correct") == []


def test_api_correction_needs_the_unmask_permission_and_is_audited(secure_app, make_user,
                                                                   login_as, audit, person):
    """An API client allowed to write but not to unmask (a role granted only GET and PUT
    of the retiree API) cannot change the numbers; a clerk can, audited."""
    from core.extensions import db
    from core.security import RegionUser

    rid, payload = person
    make_user("api_writer", "community_staff", "320502001001")
    with secure_app.app_context():
        sm = secure_app.appbuilder.sm
        role = sm.add_role("retiree_api_writer")
        for permission in ("can_get", "can_put"):
            sm.add_permission_role(role, sm.find_permission_view_menu(permission, "RetireeApi"))
        user = db.session.scalar(select(RegionUser).where(RegionUser.username == "api_writer"))
        user.roles = [role]
        db.session.commit()
    writer = secure_app.test_client()
    token = api_login(writer, "api_writer").json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    got = writer.get(f"/api/v1/retiree/{rid}", headers=headers)
    assert got.status_code == 200, got.json
    refused = writer.put(f"/api/v1/retiree/{rid}", headers=headers, json={"phone": NEW_PHONE})
    assert refused.status_code == 403
    assert "查看完整信息的权限" in refused.json["message"]
    assert _stored(secure_app, rid)[:3] == (payload["id_card_no"], payload["phone"], 1)
    other = writer.put(f"/api/v1/retiree/{rid}", headers=headers,
                       json={"residence_address": "苏州市沧浪区新址8号"})
    assert other.status_code == 200, other.json

    clerk = login_as("c_cl11")
    headers = {"X-CSRFToken": csrf_token(clerk, "/retiree/list/")}
    accepted = clerk.put(f"/api/v1/retiree/{rid}", headers=headers, json={"phone": NEW_PHONE})
    assert accepted.status_code == 200, accepted.json
    assert _stored(secure_app, rid)[1] == NEW_PHONE
    entry = audit(action="person.correct")[-1]
    assert entry["actor"] == "c_cl11" and entry["detail"] == {"fields": ["phone"], "via": "api"}


# --- audit actions ---------------------------------------------------------------------------

def test_each_way_of_seeing_a_person_is_audited_under_its_own_name(secure_app, login_as,
                                                                   audit, person):
    from core.audit.models import AuditEntry

    rid, _ = person
    client = login_as("c_cl11")
    for path in (f"/retiree/show/{rid}", f"/api/v1/retiree/{rid}", f"/retiree/edit/{rid}",
                 f"/retiree/print/{rid}", f"/retiree/card/{rid}"):
        assert client.get(path).status_code == 200, path
    for path in (f"/retiree/print-full/{rid}", f"/retiree-unmask/{rid}"):
        client.post(path, data={"csrf_token": csrf_token(client, path), "reason": REASON})
    path = f"/retiree/correct/{rid}"
    client.post(path, data={"csrf_token": csrf_token(client, path), "phone": NEW_PHONE,
                            "reason": REASON})
    seen = [e["action"] for e in audit(object_id=str(rid))
            if e["action"].startswith("person.") or e["action"] == "unmask"]
    assert seen == ["person.open", "person.open", "person.edit", "person.print", "person.card",
                    "person.print_full", "unmask", "person.correct"]
    labels = {action: AuditEntry.ACTIONS[action] for action in seen}
    assert len(set(labels.values())) == 7
    assert labels["person.print_full"] == "打印完整登记表"
    assert labels["person.correct"] == "更正证件号/电话"
    assert "查看个人完整信息" not in labels.values()


def test_audit_screen_and_export_show_and_filter_by_the_new_labels(secure_app, make_user,
                                                                   login_as, person):
    import io

    import openpyxl

    rid, _ = person
    clerk = login_as("c_cl11")
    clerk.get(f"/retiree/print/{rid}")
    path = f"/retiree/print-full/{rid}"
    clerk.post(path, data={"csrf_token": csrf_token(clerk, path), "reason": REASON})
    make_user("aud", "audit_admin", "320500")
    auditor = login_as("aud")
    page = auditor.get("/audit/list/?_flt_1_action=person.print").get_data(as_text=True)
    assert "打印登记表（脱敏）" in page and "打印完整登记表" in page
    only_full = auditor.get("/audit/list/?_flt_0_action=完整登记表").get_data(as_text=True)
    assert "打印完整登记表" in only_full and "打印登记表（脱敏）" not in only_full
    sheet = openpyxl.load_workbook(io.BytesIO(auditor.get(
        "/audit/export/?_flt_0_action=完整登记表").data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert "操作名称" in rows[0]
    assert [r[rows[0].index("操作名称")] for r in rows[1:]] == ["打印完整登记表"]
