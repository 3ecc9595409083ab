"""PIPL masking: ID numbers and phones masked in lists, exports and the API; one record
unmasked only with the permission and a stated reason, audited; health fields only for
the roles that need them; search by full ID number finds without revealing."""
from __future__ import annotations

import io

import openpyxl
import pytest

from tests.security.conftest import csrf_token


def _masks(payload):
    idc = payload["id_card_no"]
    return idc[:6] + "*" * 12, "138****5678"


def _xlsx_values(data: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
            for v in row if v is not None]


@pytest.fixture
def person(create_retiree, retiree_payload):
    payload = retiree_payload(1, serious_illness="tumour", health_notes="化疗中")
    rid = create_retiree(1, serious_illness="tumour", health_notes="化疗中")
    return rid, payload


def test_list_shows_masked_id_and_phone(secure_app, login_as, person):
    rid, payload = person
    page = login_as("c_cl11").get("/retiree/list/").get_data(as_text=True)
    masked_id, masked_phone = _masks(payload)
    assert masked_id in page and masked_phone in page
    assert payload["id_card_no"] not in page and payload["phone"] not in page


def test_show_page_shows_masked_id_and_phone(secure_app, login_as, person):
    rid, payload = person
    page = login_as("c_cl11").get(f"/retiree/show/{rid}").get_data(as_text=True)
    assert _masks(payload)[0] in page
    assert payload["id_card_no"] not in page and payload["phone"] not in page


def test_api_list_and_get_show_masked_values(secure_app, login_as, person):
    rid, payload = person
    client = login_as("c_cl11")
    for body in (client.get("/api/v1/retiree/").get_data(as_text=True),
                 client.get(f"/api/v1/retiree/{rid}").get_data(as_text=True)):
        assert _masks(payload)[0] in body
        assert payload["id_card_no"] not in body and payload["phone"] not in body


def test_api_writes_answer_masked_values(app, client_for, retiree_payload):
    """POST and PUT answer the record as GET shows it, never the full ID number and phone
    that were sent."""
    admin = client_for("admin")
    payload = retiree_payload(1)
    created = admin.post("/api/v1/retiree/", json=payload)
    assert created.status_code == 201, created.json
    masked_id, masked_phone = _masks(payload)
    changed = admin.put(f"/api/v1/retiree/{created.json['id']}",
                        json={"phone": "13812345678", "name": "张三丰"})
    assert changed.status_code == 200, changed.json
    for answer in (created, changed):
        text = answer.get_data(as_text=True)
        assert payload["id_card_no"] not in text and payload["phone"] not in text
        assert answer.json["result"]["id_card_masked"] == masked_id
        assert answer.json["result"]["phone_masked"] == masked_phone
    assert changed.json["result"]["name"] == "张三丰"


def test_export_masks_id_and_phone(secure_app, login_as, person):
    rid, payload = person
    values = _xlsx_values(login_as("c_cl11").get("/retiree/export/").data)
    assert _masks(payload)[0] in values and _masks(payload)[1] in values
    assert payload["id_card_no"] not in values and payload["phone"] not in values


def test_ledger_export_masks_id_and_phone(secure_app, login_as, person, region_id):
    rid, payload = person
    client = login_as("c_cl11")
    response = client.get(f"/retiree-exchange/ledger?community={region_id('320502001001')}"
                          "&format=xlsx")
    values = _xlsx_values(response.data)
    assert _masks(payload)[0] in values and payload["id_card_no"] not in values


def test_cli_export_masks_id_and_phone(secure_app, person, tmp_path):
    rid, payload = person
    out = tmp_path / "e.xlsx"
    result = secure_app.test_cli_runner().invoke(args=["export", "retirees", str(out)])
    assert result.exit_code == 0, result.output
    values = _xlsx_values(out.read_bytes())
    assert _masks(payload)[0] in values and payload["id_card_no"] not in values


def test_a_masked_export_imports_back_without_harm(secure_app, login_as, person, tmp_path):
    from core.extensions import db
    from core.registry.exchange import import_retirees
    from core.registry.models import Retiree

    rid, payload = person
    path = tmp_path / "back.xlsx"
    path.write_bytes(login_as("c_cl11").get("/retiree/export/").data)
    with secure_app.app_context():
        result = import_retirees(db.session, str(path), "cli")
        assert result.failed == 0 and result.updated == 0
        assert db.session.get(Retiree, rid).id_card_no == payload["id_card_no"]


# --- unmasking one record ------------------------------------------------------------------

def test_unmasking_needs_a_reason_and_is_audited(secure_app, login_as, person, audit):
    rid, payload = person
    client = login_as("c_cl11")
    page = client.get(f"/retiree-unmask/{rid}").get_data(as_text=True)
    assert payload["id_card_no"] not in page
    token = csrf_token(client, f"/retiree-unmask/{rid}")
    no_reason = client.post(f"/retiree-unmask/{rid}", data={"csrf_token": token, "reason": ""})
    assert payload["id_card_no"] not in no_reason.get_data(as_text=True)
    assert audit(action="unmask") == []
    shown = client.post(f"/retiree-unmask/{rid}",
                        data={"csrf_token": token, "reason": "办理死亡待遇核对"})
    text = shown.get_data(as_text=True)
    assert payload["id_card_no"] in text and payload["phone"] in text
    entry = audit(action="unmask")[-1]
    assert entry["actor"] == "c_cl11" and entry["object_id"] == str(rid)
    assert entry["detail"]["reason"] == "办理死亡待遇核对"


def test_unmasking_needs_the_permission(secure_app, login_as, person):
    rid, payload = person
    assert login_as("sup").get(f"/retiree-unmask/{rid}").status_code == 403


def test_unmasking_is_scoped(secure_app, login_as, person):
    rid, _ = person
    assert login_as("c_pj11").get(f"/retiree-unmask/{rid}").status_code == 404


# --- health fields ---------------------------------------------------------------------------

def test_health_fields_visible_to_staff(secure_app, login_as, person):
    rid, _ = person
    client = login_as("c_cl11")
    assert "化疗中" in client.get(f"/retiree/show/{rid}").get_data(as_text=True)
    assert client.get(f"/api/v1/retiree/{rid}").json["result"]["health_notes"] == "化疗中"


def test_health_fields_hidden_from_supervisors(secure_app, login_as, person):
    rid, _ = person
    client = login_as("sup")
    page = client.get(f"/retiree/show/{rid}").get_data(as_text=True)
    assert "化疗中" not in page and "恶性肿瘤" not in page
    result = client.get(f"/api/v1/retiree/{rid}").json["result"]
    assert "health_notes" not in result and "serious_illness" not in result


def test_supervisors_cannot_probe_illness_through_list_filters(secure_app, login_as, person):
    client = login_as("sup")
    assert client.get("/retiree/list/?_flt_0_serious_illness=tumour").status_code == 403


# --- search by full ID -----------------------------------------------------------------------

def test_search_by_full_id_number_finds_without_revealing(secure_app, login_as, person,
                                                          create_retiree):
    rid, payload = person
    create_retiree(2)
    page = login_as("c_cl11").get(
        f"/retiree/list/?_flt_0_id_card_no={payload['id_card_no']}").get_data(as_text=True)
    assert _masks(payload)[0] in page and "李四2" not in page
    # links and the search form echo what the user typed; the rows do not reveal it
    import re

    cells = re.findall(r"<td>(.*?)</td>", page, flags=re.S)
    assert _masks(payload)[0] in cells
    assert not any(payload["id_card_no"] in c for c in cells)
