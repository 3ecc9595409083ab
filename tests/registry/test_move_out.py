"""Issue 14 item 1: a move out of the clerk's community ends on the move record with a
message naming where the person went; the move record keeps the person's name and
number and both communities' full names as text, so that the sender still reads its
own move records; a third community sees none of it (A6, A32)."""
from __future__ import annotations

import re

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from core.extensions import db
from core.registry.models import RetireeTransfer
from core.scoping import unscoped

SENDER = "320502001001"      # 沧浪区双塔街道东园社区 (c_cl11)
RECEIVER = "320503001001"    # 平江区平江街道仓街社区 (c_pj11)


def _text(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _move(client, pk, community_id, reason="随子女迁居"):
    return client.post(f"/retiree/move/{pk}", data={
        "community": str(community_id or ""), "moved_on": "2025-01-10", "reason": reason})


def _transfer(app) -> RetireeTransfer:
    with app.app_context(), unscoped():
        [row] = db.session.scalars(select(RetireeTransfer)).all()
        db.session.expunge(row)
        return row


def test_A32_move_out_of_scope_lands_on_the_move_record(app, client_for, create_retiree,
                                                         region_id):
    pk = create_retiree(1, SENDER)  # 张三, 个人编号 00001001
    sender = client_for("c_cl11")
    response = _move(sender, pk, region_id(RECEIVER))
    assert response.status_code == 302, _text(response)
    transfer = _transfer(app)
    assert response.location.endswith(f"/retireetransferview/show/{transfer.id}")
    landed = sender.get(response.location)
    assert landed.status_code == 200
    page = _text(landed)
    assert "张三已迁往平江区平江街道仓街社区" in page
    for shown in ("张三", "00001001", "沧浪区双塔街道东园社区", "平江区平江街道仓街社区", "随子女迁居"):
        assert shown in page, shown
    assert "None" not in page
    # The person's page is out of the sender's scope now: no link to it is offered.
    assert f"/retiree/show/{pk}" not in landed.get_data(as_text=True)


def test_A32_sender_lists_its_moves_out_by_name_not_None(app, client_for, create_retiree,
                                                          region_id):
    pk = create_retiree(1, SENDER)
    assert _move(client_for("c_cl11"), pk, region_id(RECEIVER)).status_code == 302
    row = "张三 00001001 沧浪区双塔街道东园社区 平江区平江街道仓街社区 2025-01-10 随子女迁居"
    for username in ("c_cl11", "c_pj11", "s_cl1", "d_cl", "d_pj", "city"):
        page = _text(client_for(username).get("/retireetransferview/list/"))
        assert row in page, (username, page[page.find("迁移记录"):][:400])
        assert "None" not in page, username


def test_A6_A32_third_community_sees_no_move_record(app, client_for, create_retiree,
                                                    region_id):
    """The move record's scope is the sender's or the receiver's subtree: a community of
    the same street, another street, another district see neither the row nor its show
    page, through the screen and the list's filters."""
    pk = create_retiree(1, SENDER)
    assert _move(client_for("c_cl11"), pk, region_id(RECEIVER)).status_code == 302
    transfer = _transfer(app)
    for username in ("c_cl12", "c_cl21", "s_cl2"):
        client = client_for(username)
        page = _text(client.get("/retireetransferview/list/"))
        assert "张三" not in page and "仓街社区" not in page, username
        assert client.get(f"/retireetransferview/show/{transfer.id}").status_code == 404
        filtered = _text(client.get("/retireetransferview/list/?_flt_0_retiree_name=张三"))
        assert "仓街社区" not in filtered and "随子女迁居" not in filtered, username


def test_A32_move_out_of_the_pooling_area_message(app, client_for, create_retiree):
    pk = create_retiree(1, SENDER)
    sender = client_for("c_cl11")
    response = _move(sender, pk, None, reason="迁往外地")
    assert response.status_code == 302
    page = _text(sender.get(response.location))
    assert "张三已迁出统筹范围，由市退管中心集中管理" in page
    assert "统筹范围以外（居外人员）" in page


def test_A32_move_within_scope_stays_on_the_person(app, client_for, create_retiree,
                                                   region_id):
    """A street clerk moving a person between two of its communities keeps the person
    in scope: the person's page, with the same message."""
    pk = create_retiree(1, SENDER)
    street = client_for("s_cl1")
    response = _move(street, pk, region_id("320502001002"))
    assert response.status_code == 302
    assert response.location.endswith(f"/retiree/show/{pk}")
    page = _text(street.get(response.location))
    assert "张三已迁往沧浪区双塔街道" in page


def test_move_record_text_backfilled_by_the_migration(app, client_for, create_retiree,
                                                       region_id):
    """A move recorded before the text columns existed gets them from the person and
    the communities when the migration runs."""
    pk = create_retiree(1, SENDER)
    assert _move(client_for("c_cl11"), pk, region_id(RECEIVER)).status_code == 302
    with app.app_context():
        downgrade(revision="transfer_names@base")
        db.session.remove()
        columns = {c["name"] for c in db.inspect(db.engine).get_columns("retiree_transfer")}
        assert "retiree_name" not in columns
        upgrade(revision="heads")
        db.session.remove()
        row = db.session.execute(text(
            "select retiree_name, personal_no, from_community_name, to_community_name "
            "from retiree_transfer")).one()
    assert tuple(row) == ("张三", "00001001", "沧浪区双塔街道东园社区", "平江区平江街道仓街社区")
