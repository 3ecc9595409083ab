"""Issue 14 item 7: every download carries an ASCII name and the Chinese one (RFC 6266),
never Werkzeug's ``filename=.xlsx`` that Chromium saves as "download". The plugins'
downloads are checked in their own tests (receipt, instalment application, agreements);
the background job's report in tests/core/test_jobs.py."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from core.downloads import content_disposition, fallback_name

DAY = r"\d{4}-\d\d-\d\d"


def _names(response) -> tuple[str, str, str]:
    """(inline|attachment, ASCII name, Chinese name) of a response."""
    assert response.status_code == 200, response.status_code
    value = response.headers["Content-Disposition"]
    found = re.fullmatch(r"(inline|attachment); filename=\"([A-Za-z0-9._-]+)\"; "
                         r"filename\*=UTF-8''([A-Za-z0-9%!#$&+^`|~._-]+)", value)
    assert found, value
    kind, ascii_name, encoded = found.groups()
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.[a-z]+", ascii_name), ascii_name
    return kind, ascii_name, unquote(encoded)


def test_content_disposition_has_both_names():
    assert content_disposition("退休人员名册-2026-12-08.xlsx", "retirees-2026-12-08.xlsx") == (
        'attachment; filename="retirees-2026-12-08.xlsx"; '
        f"filename*=UTF-8''{quote('退休人员名册-2026-12-08.xlsx')}")
    assert content_disposition("card-1.pdf", "card-1.pdf", inline=True) == \
        'inline; filename="card-1.pdf"'
    # Characters no file name may hold are replaced; quotes never reach the header.
    assert content_disposition('a/b"c.xlsx', 'x y".xlsx') == (
        "attachment; filename=\"x-y-.xlsx\"; filename*=UTF-8''a_b_c.xlsx")


@pytest.mark.parametrize("bad", [".xlsx", "退休.xlsx", "", "-.pdf"])
def test_fallback_must_name_the_file(bad):
    with pytest.raises(ValueError):
        fallback_name(bad)


@pytest.fixture
def person(create_retiree):
    return create_retiree(1, name="王建国", personal_no="100380")


def test_import_template_download(client_for):
    kind, ascii_name, name = _names(client_for("c_cl11").get("/retiree-exchange/template"))
    assert (kind, ascii_name, name) == (
        "attachment", "retiree-import-template.xlsx", "退休人员信息导入模板.xlsx")


def test_import_error_report_download(app, client_for):
    folder = Path(app.instance_path) / "retiree_import_reports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "abc123.xlsx").write_bytes(b"PK\x03\x04")
    assert _names(client_for("c_cl11").get("/retiree-exchange/report/abc123")) == (
        "attachment", "import-errors.xlsx", "导入错误报告.xlsx")


def test_roster_export_download(client_for, person):
    kind, ascii_name, name = _names(client_for("c_cl11").get("/retiree/export/"))
    today = date.today().isoformat()
    assert (kind, ascii_name, name) == (
        "attachment", f"retirees-{today}.xlsx", f"退休人员名册-{today}.xlsx")


def test_ledger_download(client_for, region_id, person):
    community = region_id("320502001001")
    response = client_for("c_cl11").get(
        f"/retiree-exchange/ledger?community={community}&format=xlsx")
    today = date.today().isoformat()
    assert _names(response) == ("attachment", f"ledger-320502001001-{today}.xlsx",
                                f"东园社区基础台帐-{today}.xlsx")


@pytest.mark.parametrize(("url", "ascii_name", "name"), [
    ("/retiree/print/{pk}", "registration-00100380.pdf", "基本信息登记表-王建国-00100380.pdf"),
    ("/retiree/card/{pk}", "card-00100380.pdf", "联系卡-王建国-00100380.pdf"),
])
def test_person_pdf_downloads(client_for, person, url, ascii_name, name):
    assert _names(client_for("c_cl11").get(url.format(pk=person))) == ("inline", ascii_name,
                                                                       name)


def test_full_registration_form_download(client_for, person):
    response = client_for("admin").post(f"/retiree/print-full/{person}",
                                        data={"reason": "核对档案需要完整信息"})
    assert _names(response) == ("inline", "registration-full-00100380.pdf",
                                "基本信息登记表（完整）-王建国-00100380.pdf")


def test_audit_export_download(app, client_for):
    from core.commands import create_user
    from core.testing import PASSWORD

    with app.app_context():
        create_user("aud", PASSWORD, "audit_admin", "320500", name="aud", temporary=False)
    kind, ascii_name, name = _names(client_for("aud").get("/audit/export/"))
    assert kind == "attachment"
    assert re.fullmatch(rf"audit-{DAY}\.xlsx", ascii_name)
    assert re.fullmatch(rf"审计日志-{DAY}\.xlsx", name)


def test_dashboard_downloads(client_for):
    city = client_for("city")
    today = date.today().isoformat()
    assert _names(city.get("/dashboard/xlsx")) == (
        "attachment", f"dashboard-all-{today}.xlsx", f"统计图表-{today}.xlsx")
    assert _names(city.get("/dashboard/xlsx?chart=age")) == (
        "attachment", f"dashboard-age-{today}.xlsx", f"年龄结构（按性别）-{today}.xlsx")
    assert _names(city.get("/dashboard/pdf")) == (
        "inline", f"dashboard-{today}.pdf", f"统计图表-{today}.pdf")
