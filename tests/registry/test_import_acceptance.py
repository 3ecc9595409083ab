"""Issue 3, done when: a 10,000-row xlsx with 5 % bad rows imports with an exact error
report, and nobody is duplicated on re-import (A31, F4)."""
from openpyxl import load_workbook
from sqlalchemy import func, select


def test_A31_ten_thousand_rows_five_percent_bad_exact_report_no_duplicates(
        app, import_file, tmp_path):
    from core.extensions import db
    from core.registry import exchange
    from core.registry.models import Retiree

    path, bad = import_file(10_000, bad_every=20)
    assert len(bad) == 500
    with app.app_context():
        first = exchange.import_retirees(db.session, str(path), "importer")
        assert (first.total, first.created, first.failed) == (10_000, 9_500, 500)
        assert sorted(row for row, _, _ in first.errors) == bad
        assert all(reasons for _, _, reasons in first.errors)
        report = tmp_path / "report.xlsx"
        exchange.write_report(report, first)
        listed = [r[0] for r in load_workbook(report, read_only=True).worksheets[0]
                  .iter_rows(min_row=2, values_only=True) if r and r[0] is not None]
        assert sorted(int(r) for r in listed) == bad
        again = exchange.import_retirees(db.session, str(path), "importer")
        assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 9_500, 500)
        assert db.session.scalar(select(func.count()).select_from(Retiree)) == 9_500
        dupes = db.session.execute(select(Retiree.personal_no).group_by(Retiree.personal_no)
                                   .having(func.count() > 1)).all()
        assert dupes == []
