"""Issue #12 item 19: no xlsx the project writes holds a formula made of user text. A
street, a community and an enterprise named like formulas, and a retiree's address, go
through every writer — the registry export, the community ledger, the dashboard, the
audit trail, the import error report, the template — and each file is checked with
openpyxl (no cell of type ``f``) and in its raw XML (no ``<f>``). Text is neutralised by
one function (``core.xlsx``); numbers, negative ones too, stay numbers, and what the
registry export wrote imports back unchanged."""
from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import select, update

from core.xlsx import neutralise, restore, safe_row

LINK = '=HYPERLINK("http://x","y")'
SUM = "+1+1"
AT = "@SUM(A1)"
ADDRESS = "-2+3"
PAYLOADS = (LINK, SUM, AT)
FORMULA_XML = re.compile(rb"<(?:\w+:)?f[ >/]")


def formulas(data: bytes) -> list[str]:
    """The formula cells of a workbook: by openpyxl, and in the sheets' raw XML."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    found = [f"{ws.title}!{c.coordinate}" for ws in book.worksheets for row in ws.iter_rows()
             for c in row if c.data_type == "f"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        found += [name for name in z.namelist() if name.startswith("xl/worksheets/")
                  and FORMULA_XML.search(z.read(name))]
    return found


def texts(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
            if isinstance(c.value, str)]


@pytest.fixture
def named_like_formulas(secure_app, create_retiree):
    """Street 320502001 = LINK, community 320502001001 = SUM, enterprise 320500001 = AT,
    with a retiree there (address ADDRESS; the shared fixture writes to the same
    database as ``secure_app``)."""
    from core.extensions import db
    from core.regions import Region
    from core.registry.models import Enterprise

    create_retiree(1, residence_address=ADDRESS)
    with secure_app.app_context():
        db.session.execute(update(Region).where(Region.code == "320502001").values(name=LINK))
        db.session.execute(update(Region).where(Region.code == "320502001001")
                           .values(name=SUM))
        db.session.execute(update(Enterprise).where(Enterprise.unit_no == "320500001")
                           .values(name=AT))
        db.session.commit()
        return db.session.scalar(select(Region.id).where(Region.code == "320502001001"))


def test_the_dashboard_xlsx_has_no_formula_cells_for_formula_like_names(
        named_like_formulas, login_as):
    for user in ("d_cl", "s_cl1"):  # the street's name, then the community's, as categories
        answer = login_as(user).get("/dashboard/xlsx")
        assert answer.status_code == 200
        assert formulas(answer.data) == [], user
        values = texts(answer.data)
        assert not [v for v in values if v.startswith(("=", "+", "-", "@"))], user
    assert neutralise(LINK) in texts(login_as("d_cl").get("/dashboard/xlsx").data)
    assert neutralise(SUM) in texts(login_as("s_cl1").get("/dashboard/xlsx").data)


def test_registry_export_and_ledger_have_no_formula_cells_and_import_back(
        secure_app, named_like_formulas, login_as):
    from core.registry import excel

    client = login_as("c_cl11")
    for url in ("/retiree/export/",
                f"/retiree-exchange/ledger?community={named_like_formulas}&format=xlsx"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert formulas(answer.data) == [], url
        assert neutralise(ADDRESS) in texts(answer.data), url
        rows = [raw for _, raw in excel.read_rows(io.BytesIO(answer.data))]
        assert [raw["residence_address"] for raw in rows] == [ADDRESS], url


def test_the_audit_export_has_no_formula_cells(secure_app, make_user, login_as):
    from core.audit.trail import record

    with secure_app.app_context():
        record("test.event", object_type=LINK, object_id=SUM, detail={"name": AT}, actor=AT)
    make_user("fi_aud", "audit_admin", "320500")
    answer = login_as("fi_aud").get("/audit/export/")
    assert answer.status_code == 200
    assert formulas(answer.data) == []
    assert {neutralise(LINK), neutralise(AT)} <= set(texts(answer.data))


def test_the_error_report_and_the_template_have_no_formula_cells(tmp_path):
    from core.registry import excel

    report = tmp_path / "report.xlsx"
    excel.write_error_report(report, [(2, {"name": LINK, "personal_no": SUM,
                                           "id_card_no": AT}, [f"单位{AT}不存在"])],
                             summary={SUM: 1})
    template = tmp_path / "template.xlsx"
    excel.write_template(template)
    for path in (report, template):
        assert formulas(path.read_bytes()) == [], path.name
    assert {neutralise(p) for p in PAYLOADS} <= set(texts(report.read_bytes()))


def test_only_text_is_neutralised_and_restored():
    """Negative numbers stay numbers; ID numbers and phones are text, unchanged."""
    row = safe_row([LINK, SUM, AT, "-5", -5, 3.5, "\tx", "\rx", "＝1", "'=x",
                    "320502195001011234", "0512-65000000", None, "张三"])
    assert row == ["'" + LINK, "'+1+1", "'@SUM(A1)", "'-5", -5, 3.5, "'\tx", "'\rx", "'＝1",
                   "''=x", "320502195001011234", "0512-65000000", None, "张三"]
    assert [restore(v) for v in row if isinstance(v, str)] == [
        LINK, SUM, AT, "-5", "\tx", "\rx", "＝1", "'=x", "320502195001011234",
        "0512-65000000", "张三"]
