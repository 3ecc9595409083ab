"""A31, issue 7: the import checks and writes rows in chunks; the outcome is the same as
when every row was written on its own — a person the file names twice is registered
once and then updated, an ID number cannot be taken twice, and a chunk the database
refuses is done again row by row, so the bad row is reported and the others are kept."""

import pytest
from sqlalchemy import func, select


@pytest.mark.parametrize("chunk_rows", [1, 1000])
def test_F4_a_person_named_twice_is_registered_once_then_updated(app, rows, tmp_path,
                                                                  run_import, chunk_rows):
    from core.extensions import db
    from core.registry import excel
    from core.registry.models import Retiree, RetireeHistory

    first = rows(1)
    again = first | {"phone": "13900000001"}
    same_id = rows(2) | {k: first[k] for k in ("id_card_no", "birth_date")}
    path = tmp_path / "twice.xlsx"
    excel.write_export(path, [first, rows(3), again, same_id])
    result = run_import(path, chunk_rows=chunk_rows)
    assert (result.created, result.updated, result.failed) == (2, 1, 1), result.summary()
    (row_no, shown, reasons), = result.errors
    assert (row_no, reasons) == (5, [f"身份证号{first['id_card_no']}已登记，不能重复登记"])
    assert {k: shown[k] for k in ("name", "personal_no", "id_card_no", "phone")} == {
        k: same_id[k] for k in ("name", "personal_no", "id_card_no", "phone")}
    with app.app_context():
        person = db.session.scalar(select(Retiree).where(Retiree.personal_no == "00001001"))
        assert person.phone == "13900000001"
        history = db.session.execute(
            select(RetireeHistory.action, RetireeHistory.field, RetireeHistory.reason)
            .where(RetireeHistory.retiree_id == person.id).order_by(RetireeHistory.id)).all()
        assert history == [("import", None, None), ("import", "phone", "Excel导入更新")]
        assert db.session.scalar(select(func.count()).select_from(Retiree)) == 2


def test_A31_a_chunk_the_database_refuses_is_done_again_row_by_row(app, rows, tmp_path,
                                                                   run_import, monkeypatch):
    """A number registered after the chunk's look-up (another clerk, another import) is
    refused by the database; the chunk is then written row by row: that row is reported
    with the usual message and the others are kept."""
    from core.extensions import db
    from core.registry import excel, service
    from core.registry.models import Retiree, RetireeHistory

    taken = rows(1)
    excel.write_export(tmp_path / "first.xlsx", [taken])
    assert run_import(tmp_path / "first.xlsx").created == 1
    monkeypatch.setattr(service.TakenNumbers, "clash", lambda self, r, field, value: False)
    clash = rows(2) | {k: taken[k] for k in ("id_card_no", "birth_date")}
    excel.write_export(tmp_path / "second.xlsx", [rows(3), clash, rows(4)])
    result = run_import(tmp_path / "second.xlsx")
    assert (result.created, result.failed) == (2, 1), result.summary()
    assert result.errors[0][0] == 3
    assert result.errors[0][2] == [f"身份证号{taken['id_card_no']}已登记，不能重复登记"]
    with app.app_context():
        assert sorted(db.session.scalars(select(Retiree.personal_no))) == [
            "00001001", "00001003", "00001004"]
        # A32: each person once in the history, though the chunk was written twice
        created = db.session.execute(
            select(Retiree.personal_no, func.count(RetireeHistory.id))
            .join(RetireeHistory, RetireeHistory.retiree_id == Retiree.id)
            .group_by(Retiree.personal_no).order_by(Retiree.personal_no)).all()
        assert created == [("00001001", 1), ("00001003", 1), ("00001004", 1)]
        assert db.session.scalar(select(func.count()).select_from(RetireeHistory)) == 3


def test_A31_a_row_the_database_refuses_is_reported_and_the_others_kept(app, rows, tmp_path,
                                                                      run_import, monkeypatch):
    """Should the checks let through what the database refuses (here: uniqueness not
    checked at all), the import does not stop: that row is reported, the others land."""
    from core.registry import excel, exchange, service

    taken = rows(1)
    excel.write_export(tmp_path / "first.xlsx", [taken])
    assert run_import(tmp_path / "first.xlsx").created == 1
    monkeypatch.setattr(service, "_uniqueness", lambda *args: [])
    clash = rows(2) | {k: taken[k] for k in ("id_card_no", "birth_date")}
    excel.write_export(tmp_path / "second.xlsx", [rows(3), clash, rows(4)])
    result = run_import(tmp_path / "second.xlsx")
    assert (result.created, result.failed) == (2, 1), result.summary()
    assert [(n, reasons) for n, _, reasons in result.errors] == [(3, [exchange.DB_REFUSED])]
