"""Issue #13 item 11: the import limits are configured in one place, agree with each other
(the request cap follows the upload cap, the unpacked cap is the upload cap times the
ratio real files never reach), still refuse zip bombs, and admit what the project
exports: its size per row scaled to 1,000,000 rows fits the caps, and the file reads back
whole."""
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

import config


def test_the_limits_come_from_config_and_agree(app_factory):
    from core.registry import excel, exchange

    assert (excel.DEFAULT_MAX_BYTES, excel.DEFAULT_MAX_RATIO) == (
        config.IMPORT_MAX_BYTES, config.IMPORT_MAX_RATIO)
    app = app_factory()
    with app.app_context():
        limits = exchange.import_limits()
    assert limits == {"max_bytes": config.IMPORT_MAX_BYTES,
                      "max_ratio": config.IMPORT_MAX_RATIO,
                      "max_uncompressed": config.IMPORT_MAX_BYTES * config.IMPORT_MAX_RATIO}
    assert app.config["MAX_CONTENT_LENGTH"] == config.IMPORT_MAX_BYTES + 2**20
    small = app_factory(IMPORT_MAX_BYTES=8 * 2**20, IMPORT_MAX_RATIO=20)
    with small.app_context():
        assert exchange.import_limits()["max_uncompressed"] == 160 * 2**20
    assert small.config["MAX_CONTENT_LENGTH"] == 9 * 2**20
    assert app_factory(MAX_CONTENT_LENGTH=2**20).config["MAX_CONTENT_LENGTH"] == 2**20


def test_a_file_over_the_configured_upload_cap_is_refused_on_the_screen(
        app_factory, client_for, import_file):
    """The same cap on the web as in the job and the CLI; nothing is kept."""
    app = app_factory(IMPORT_MAX_BYTES=4096)
    path, _ = import_file(40)
    assert path.stat().st_size > 4096
    client = client_for("admin", app)
    with open(path, "rb") as fh:
        page = client.post("/retiree-exchange/import", data={"file": (fh, "people.xlsx")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "文件过大" in page.get_data(as_text=True)
    assert "导入文件上限4 KB" in page.get_data(as_text=True)
    uploads = Path(app.instance_path) / "jobs" / "uploads"
    assert not uploads.exists() or not list(uploads.iterdir())


def test_a_bomb_of_many_small_parts_is_refused_by_its_overall_ratio():
    """Each part stays under the 1 MB the per-part ratio looks at; together they unpack
    to 40 MB from a few hundred KB."""
    from core.errors import RuleViolation
    from core.registry import excel

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(40):
            zf.writestr(f"xl/media/pad{i}.bin", b" " * (1024 * 1024 - 1))
    with pytest.raises(RuleViolation, match="压缩炸弹"):
        excel.read_rows(io.BytesIO(buffer.getvalue()))


def test_a_million_row_export_of_the_project_fits_the_limits_and_reads_back(app, tmp_path):
    """The export as ``exchange.export_retirees`` writes it (masked numbers, the state and
    version columns), for 5,000 demo people: it reads back with the app's limits without a
    cell error, and its size per row, times 1,000,000, stays under the upload cap and the
    unpacked cap with a ratio under the configured one. The README records the 200,000-
    and 1,000,000-row files measured by hand (49.8 MB / 273 MB and 249 MB / 1,380 MB):
    writing them here would take minutes."""
    from core.demo import retiree_rows
    from core.extensions import db
    from core.regions import Region
    from core.registry import excel, exchange
    from core.registry.models import EmploymentAgency, Enterprise

    n = 5_000
    path = tmp_path / "export.xlsx"
    with app.app_context():
        communities = db.session.scalars(select(Region).where(
            Region.level == "community")).all()
        units = {e.id: e.unit_no for e in db.session.scalars(select(Enterprise))}
        codes = {c.id: c.code for c in communities}
        agencies = {a.id: a.code for a in db.session.scalars(select(EmploymentAgency))}

        def exported(row):
            row["employer"] = units.get(row.pop("employer_id"))
            row["custodian_agency"] = agencies.get(row.pop("custodian_agency_id"))
            row["community"] = codes.get(row.pop("community_id"))
            row["version"] = 1
            return exchange._as_exported(row, frozenset(), True)

        rows = retiree_rows(n, 11, communities, "/x/", list(units), list(agencies),
                            10_000_000)
        assert excel.write_export(path, map(exported, rows),
                                  extra_columns=exchange.EXPORT_EXTRAS) == n
        limits = exchange.import_limits()
        db.session.remove()
    with zipfile.ZipFile(path) as zf:
        unpacked = sum(m.file_size for m in zf.infolist())
    packed = path.stat().st_size
    million = 1_000_000 / n
    assert packed * million < limits["max_bytes"]
    assert unpacked * million < limits["max_uncompressed"]
    assert unpacked / packed < limits["max_ratio"] / 2
    assert unpacked * 200_000 / n > 200 * 2**20  # the old hard-coded cap refused 200,000
    sheet = excel.read_rows(path, **limits)
    assert sheet.size_hint == n
    count = 0
    for _, row in sheet:
        assert not row["_errors"], row["_errors"]
        count += 1
    assert count == n
    assert row["_version"] == 1 and row["personal_no"] == f"{10_000_000 + n - 1:08d}"
