"""Files: an upload size limit; extension and content checked (a renamed binary, an xlsx
zip bomb, a macro-enabled workbook are refused) with nothing left behind; temporary
export files removed; exported cells that a spreadsheet would run as formulas
neutralised."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.security.conftest import csrf_token

MINIMAL_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                 b'package/2006/content-types"><Override PartName="/xl/workbook.xml" '
                 b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                 b'sheet.main+xml"/></Types>')


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _bomb() -> bytes:
    return _zip({"[Content_Types].xml": MINIMAL_TYPES, "xl/workbook.xml": b"<workbook/>",
                 "xl/worksheets/sheet1.xml": b" " * (40 * 1024 * 1024)})


def _macro() -> bytes:
    types = MINIMAL_TYPES.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")
    return _zip({"[Content_Types].xml": types, "xl/workbook.xml": b"<workbook/>",
                 "xl/vbaProject.bin": b"\x00VBA"})


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048


def _upload(client, data: bytes, name: str):
    return client.post("/retiree-exchange/import", data={
        "csrf_token": csrf_token(client, "/retiree-exchange/import"),
        "file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
        follow_redirects=True)


def _uploads(app) -> list[Path]:
    folder = Path(app.instance_path) / "jobs" / "uploads"
    return sorted(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize(("data", "name", "message"), [
    (PNG, "retirees.xlsx", "改了扩展名"),
    (_bomb(), "bomb.xlsx", "压缩炸弹"),
    (_macro(), "macro.xlsx", "含有宏"),
    (_macro(), "macro.xlsm", "只接受 .xlsx"),
    (b"name,id\n", "retirees.csv", "只接受 .xlsx"),
])
def test_bad_uploads_are_refused_and_nothing_is_left(secure_app, login_as, data, name,
                                                     message):
    before = _uploads(secure_app)
    response = _upload(login_as("c_cl11"), data, name)
    assert message in response.get_data(as_text=True)
    assert _uploads(secure_app) == before


def test_request_size_is_limited(app_factory):
    from tests.security.conftest import form_login

    app = app_factory(WTF_CSRF_ENABLED=True, MAX_CONTENT_LENGTH=64 * 1024)
    client = app.test_client()
    form_login(client, "c_cl11")
    response = _upload(client, b"x" * (128 * 1024), "big.xlsx")
    assert response.status_code == 413


def test_export_temporary_file_is_removed(secure_app, login_as, create_retiree, monkeypatch):
    """Served the way a WSGI server does (the test client never closes the response)."""
    import tempfile

    from werkzeug.test import EnvironBuilder

    made = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, path = real(*args, **kwargs)
        made.append(path)
        return fd, path

    create_retiree()
    client = login_as("c_cl11")
    cookie = client.get_cookie("session").value
    monkeypatch.setattr(tempfile, "mkstemp", spy)
    environ = EnvironBuilder(path="/retiree/export/",
                             headers={"Cookie": f"session={cookie}"}).get_environ()
    status = []
    body = secure_app(environ, lambda s, h, e=None: status.append(s))
    data = b"".join(body)
    assert status[0].startswith("200") and data.startswith(b"PK") and made
    body.close()
    assert [p for p in made if Path(p).exists()] == []


def test_exports_neutralise_formula_cells(secure_app, login_as, create_retiree):
    create_retiree(1, residence_address="=HYPERLINK(\"http://evil.example\",\"点我\")",
                   hukou_address="+1+cmd|' /C calc'!A0")
    response = login_as("c_cl11").get("/retiree/export/")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    values = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
              if isinstance(c.value, str)]
    assert any("HYPERLINK" in v for v in values)
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)
    formulas = [c for ws in book.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    assert formulas == []
