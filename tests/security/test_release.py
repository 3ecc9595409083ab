"""A33: retirees' data leaves only under a release request (requester, purpose, recipient,
scope, fields, row cap) approved by the city or, within its district, the district
centre; bulk or unmasked exports without one are refused with how to apply; the file
carries the request number and the release is audited."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from tests.security.conftest import csrf_token


@pytest.fixture
def small_free(secure_app):
    secure_app.config["RELEASE_FREE_ROWS"] = 2
    return secure_app


@pytest.fixture
def three_people(create_retiree):
    return [create_retiree(n) for n in (1, 2, 3)]


def _request(client, region_id, *, fields=(), row_cap=10, region="320502001001"):
    path = "/release/add"
    data = {"csrf_token": csrf_token(client, path), "purpose": "慰问重病人员",
            "recipient": "沧浪区慈善总会", "region": region_id(region), "row_cap": row_cap}
    if fields:
        data["fields"] = list(fields)
    client.post(path, data=data)
    from core.extensions import db
    from core.release.models import ReleaseRequest

    with client.application.app_context():
        req = db.session.scalars(select(ReleaseRequest).order_by(ReleaseRequest.id.desc())).first()
        return req.id, req.number


def _decide(client, rid, approve=True):
    token = csrf_token(client, "/resetmypassword/form")
    return client.post(f"/release/{'approve' if approve else 'reject'}/{rid}",
                       data={"csrf_token": token, "note": "同意"})


def test_bulk_export_without_approval_is_refused_with_how_to_apply(small_free, login_as,
                                                                   three_people, audit):
    client = login_as("c_cl11")
    response = client.get("/retiree/export/", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "超过 2 条须经批准" in text and "数据提供申请" in text
    assert not response.data.startswith(b"PK")
    assert audit(action="export", outcome="denied")


def test_small_export_needs_no_request(small_free, login_as, create_retiree):
    create_retiree(1)
    response = login_as("c_cl11").get("/retiree/export/")
    assert response.status_code == 200 and response.data.startswith(b"PK")


def test_district_centre_approves_and_the_file_carries_the_number(small_free, login_as,
                                                                  three_people, region_id,
                                                                  audit):
    staff = login_as("c_cl11")
    rid, number = _request(staff, region_id)
    assert staff.get(f"/retiree/export/?release={number}", follow_redirects=True) \
        .get_data(as_text=True).count("未获批准") == 1
    assert _decide(login_as("d_cl"), rid).status_code == 302
    response = staff.get(f"/retiree/export/?release={number}")
    assert response.status_code == 200 and response.headers["X-Row-Count"] == "3"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    note = " ".join(str(c.value) for row in book["数据发放说明"].iter_rows() for c in row)
    assert number in note and "沧浪区慈善总会" in note
    assert number in book.properties.description
    entry = audit(action="release", object_id=str(rid))[-1]
    assert entry["detail"]["rows"] == 3 and entry["detail"]["number"] == number


def test_approval_unmasks_only_the_approved_fields(small_free, login_as, three_people,
                                                   region_id, retiree_payload):
    staff = login_as("c_cl11")
    rid, number = _request(staff, region_id, fields=["id_card_no"])
    _decide(login_as("city"), rid)
    values = [str(c) for ws in openpyxl.load_workbook(io.BytesIO(
        staff.get(f"/retiree/export/?release={number}").data)).worksheets
        for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert retiree_payload(1)["id_card_no"] in values
    assert "13812345678" not in values


def test_row_cap_is_enforced(small_free, login_as, three_people, region_id):
    staff = login_as("c_cl11")
    rid, number = _request(staff, region_id, row_cap=2)
    _decide(login_as("d_cl"), rid)
    response = staff.get(f"/retiree/export/?release={number}", follow_redirects=True)
    assert "超过申请" in response.get_data(as_text=True)


def test_another_district_centre_cannot_approve(small_free, login_as, three_people,
                                                region_id):
    rid, number = _request(login_as("c_cl11"), region_id)
    assert _decide(login_as("d_pj"), rid).status_code == 404   # not even visible
    assert login_as("c_cl11").get(f"/retiree/export/?release={number}",
                                  follow_redirects=True).get_data(as_text=True) \
        .count("未获批准") == 1


@pytest.mark.parametrize("approver", ["s_cl1", "c_cl12", "sup"])
def test_streets_communities_and_supervisors_cannot_approve(small_free, login_as, region_id,
                                                            approver):
    rid, _ = _request(login_as("c_cl11"), region_id)
    assert _decide(login_as(approver), rid).status_code in (403, 404)


def test_nobody_approves_their_own_request(small_free, login_as, region_id):
    client = login_as("d_cl")
    rid, _ = _request(client, region_id)
    assert _decide(client, rid).status_code == 403


def test_rejected_request_does_not_release(small_free, login_as, three_people, region_id):
    staff = login_as("c_cl11")
    rid, number = _request(staff, region_id)
    _decide(login_as("d_cl"), rid, approve=False)
    response = staff.get(f"/retiree/export/?release={number}", follow_redirects=True)
    assert "未获批准" in response.get_data(as_text=True)


def test_a_release_only_covers_its_region(small_free, login_as, create_retiree, region_id):
    for n in (1, 2, 3):
        create_retiree(n)
    create_retiree(4, community="320502001002")
    staff = login_as("s_cl1")
    rid, number = _request(staff, region_id, region="320502001002")
    _decide(login_as("d_cl"), rid)
    response = staff.get(f"/retiree/export/?release={number}")
    assert response.headers["X-Row-Count"] == "1"


def test_cli_export_needs_a_release_too(small_free, three_people, tmp_path):
    result = small_free.test_cli_runner().invoke(
        args=["export", "retirees", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0 and "数据提供申请" in result.output
