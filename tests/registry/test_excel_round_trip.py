"""Issue #13: the Excel round trip never loses data and reads the right thing. Files are
made as clerks make them: exports of this system, openpyxl workbooks with hidden sheets,
number cells, error cells and hand-written headers."""
import io
import zipfile
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

COMMUNITY = "320502001001"


def _write(path, sheets):
    """A workbook of (title, rows, hidden) sheets, in order."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows, hidden in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
        if hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def _form_rows(rows, people, headers=None):
    """A header row and one row per person, the way a clerk types them."""
    from core.registry.excel import COLUMNS

    names = [c.name for c in COLUMNS]
    headers = headers or {}
    return [[headers.get(n, c.header) for n, c in zip(names, COLUMNS, strict=True)],
            *([p.get(n) for n in names] for p in people)]


def _replace_in_sheet(path, old: str, new: str) -> None:
    """Rewrite a cell as another program would have written it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buffer, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(old.encode(), new.encode())
            out.writestr(item, data)
    path.write_bytes(buffer.getvalue())


def _export(app, path, **options):
    from core.extensions import db
    from core.registry import exchange
    from core.registry.models import Retiree

    with app.app_context():
        count = exchange.export_retirees(db.session.query(Retiree).order_by(Retiree.id), path,
                                         **options)
        db.session.remove()
    return count


def _person(app, personal_no):
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():
        r = db.session.scalar(select(Retiree).where(Retiree.personal_no == personal_no))
        db.session.expunge(r)
        return r


@pytest.fixture
def registry(app, rows, tmp_path, run_import):
    """Three people: one with uraemia and health notes, one deceased, one 社区管理."""
    from core.extensions import db
    from core.registry import excel, service
    from core.registry.models import Retiree

    excel.write_export(tmp_path / "seed.xlsx", [
        rows(1, serious_illness="uraemia", health_notes="每周透析三次"),
        rows(2, serious_illness="tumour", health_notes="术后复查"), rows(3)])
    assert run_import(tmp_path / "seed.xlsx").created == 3
    with app.app_context():
        people = {r.personal_no: r for r in db.session.scalars(select(Retiree))}
        service.report_death(db.session, people["00001002"], date(2025, 3, 1), "病故",
                             "家属", "clerk")
        service.accept_archive(db.session, people["00001003"], date(2025, 1, 2), "clerk")
        db.session.commit()
        states = {no: r.management_state for no, r in people.items()}
        db.session.remove()
    assert states == {"00001001": "employer_managed", "00001002": "deceased",
                      "00001003": "community_managed"}
    return people


def test_A33_an_export_without_health_fields_imports_back_with_zero_changes(
        app, registry, tmp_path, run_import):
    """Item 1: the withheld health columns are left out of the file and named on its
    data-release sheet, so importing it back clears nobody's illness or notes."""
    path = tmp_path / "no_health.xlsx"
    assert _export(app, path, health=False, watermark="申请编号 R-1") == 3
    wb = openpyxl.load_workbook(path)
    headers = [c.value for c in wb["基本信息登记表"][1]]
    assert "重病情况" not in headers and "健康状况" not in headers
    notes = [c.value for row in wb["数据发放说明"].iter_rows() for c in row]
    assert any("未包含以下列" in n and "重病情况、健康状况" in n for n in notes if n)
    result = run_import(path)
    assert (result.created, result.updated, result.unchanged, result.failed) == (0, 0, 3, 0), \
        result.errors
    person = _person(app, "00001001")
    assert (person.serious_illness, person.health_notes) == ("uraemia", "每周透析三次")


def test_A16_an_unchanged_deceased_row_is_unchanged_and_a_changed_one_refused(
        app, registry, tmp_path, run_import):
    """Item 2: a row that changes nothing is 无变化 whatever the person's state."""
    path = tmp_path / "full.xlsx"
    _export(app, path)
    result = run_import(path)
    assert (result.updated, result.unchanged, result.failed) == (0, 3, 0), result.errors
    wb = openpyxl.load_workbook(path)
    ws = wb["基本信息登记表"]
    address = [c.value for c in ws[1]].index("现居住地") + 1
    ws.cell(row=3, column=address, value="苏州市平江区新地址")  # the deceased person
    wb.save(path)
    result = run_import(path)
    assert result.unchanged == 2 and result.failed == 1
    assert "已死亡" in result.errors[0][2][0]


def test_an_export_older_than_an_edit_does_not_revert_it_unless_overwrite(
        app, registry, tmp_path, run_import):
    """Item 3: the row carries the record's version; a row whose person changed since the
    export is refused, unless the clerk chooses to overwrite."""
    from core.extensions import db
    from core.registry import service
    from core.registry.models import Retiree

    path = tmp_path / "old.xlsx"
    _export(app, path)
    with app.app_context():
        r = db.session.scalar(select(Retiree).where(Retiree.personal_no == "00001001"))
        r.residence_address = "苏州市沧浪区新家1号"
        service.prepare(db.session, r, "other_clerk", reason="搬家")
        db.session.commit()
        db.session.remove()
    result = run_import(path)
    assert (result.updated, result.unchanged, result.failed) == (0, 2, 1)
    assert result.errors[0][2] == ["该人员在导出后已被修改，请重新导出"]
    assert _person(app, "00001001").residence_address == "苏州市沧浪区新家1号"
    result = run_import(path, overwrite=True)
    assert (result.updated, result.failed) == (1, 0)
    assert _person(app, "00001001").residence_address == "苏州市沧浪区十全街1号"


def test_A13_a_full_export_into_an_empty_registry_refuses_people_not_employer_managed(
        app, rows, tmp_path, run_import):
    """Item 4 (chosen: refuse): a new row the export marks 已死亡 or 社区管理 is refused
    rather than registered 单位管理 without its dates."""
    from core.registry import excel, exchange

    path = tmp_path / "moved.xlsx"
    excel.write_export(path, [rows(1) | {"management_state": "单位管理"},
                              rows(2) | {"management_state": "已死亡"},
                              rows(3) | {"management_state": "社区管理"}],
                       extra_columns=exchange.EXPORT_EXTRAS)
    result = run_import(path)
    assert (result.created, result.failed) == (1, 2)
    assert [(n, "“已死亡”" in m[0] or "“社区管理”" in m[0]) for n, _, m in result.errors] == [
        (3, True), (4, True)]
    assert "导入只能登记单位管理的新人员" in result.errors[0][2][0]


def test_a_hidden_old_year_sheet_is_not_read_instead_of_the_visible_one(
        app, rows, tmp_path, run_import):
    """Item 5: a hidden sheet before the visible one, and a hidden template before a
    filled visible copy: the visible sheet whose header matches is read."""
    old, new = rows(1, name="旧年份"), rows(2, name="新年份")
    path = _write(tmp_path / "years.xlsx", [("2023年", _form_rows(rows, [old]), True),
                                           ("2024年", _form_rows(rows, [new]), False)])
    result = run_import(path)
    assert (result.total, result.created) == (1, 1) and result.notes["读取的工作表"] == "2024年"
    assert _person(app, "00001002").name == "新年份"
    path = _write(tmp_path / "copy.xlsx", [("模板", _form_rows(rows, []), True),
                                          ("模板 (2)", _form_rows(rows, [rows(3)]), False)])
    assert run_import(path).created == 1


def test_several_or_no_matching_visible_sheets_are_refused_with_their_names(
        app, rows, tmp_path, run_import):
    """Item 5 and item 13: ambiguity or no header refuses the file, naming the sheets;
    data on a second sheet is read and the sheet named."""
    from core.errors import RuleViolation

    two = _write(tmp_path / "two.xlsx", [("甲表", _form_rows(rows, [rows(1)]), False),
                                        ("乙表", _form_rows(rows, [rows(2)]), False)])
    with pytest.raises(RuleViolation, match="多个工作表.*“甲表”、“乙表”"):
        run_import(two)
    none = _write(tmp_path / "none.xlsx", [("说明", [["请填写第二页"]], False),
                                          ("旧表", _form_rows(rows, [rows(1)]), True)])
    with pytest.raises(RuleViolation, match="“说明”.*隐藏的工作表（“旧表”）不读取"):
        run_import(none)
    second = _write(tmp_path / "second.xlsx", [("说明", [["请填写第二页"]], False),
                                              ("Sheet2", _form_rows(rows, [rows(4)]), False)])
    result = run_import(second)
    assert result.created == 1 and result.notes["读取的工作表"] == "Sheet2"


def test_headers_with_hints_and_paper_labels_are_read_and_unknown_ones_reported(
        app, rows, tmp_path, run_import):
    """Item 6: brackets, spaces and hints are ignored in headers, the paper form's 所在社区
    is accepted, and every ignored column is named atop the result and the error report."""
    from core.registry import exchange

    headers = {"phone": "联系电话（手机）", "political_status": "政治面貌(群众/党员)",
               "serious_illness": "重病情况 （F7）", "community": "所在社区"}
    table = _form_rows(rows, [rows(1, political_status="cpc_member", serious_illness="尿毒症"),
                              rows(2, gender="未知")], headers)
    table[0].append("备注")
    table[1].append("老党员")
    path = _write(tmp_path / "hints.xlsx", [("登记", table, False)])
    result = run_import(path)
    assert (result.created, result.failed) == (1, 1)
    assert result.notes["未导入的列"].startswith("备注（")
    assert list(result.overview())[:2] == ["读取的工作表", "未导入的列"]
    person = _person(app, "00001001")
    assert (person.phone, person.political_status, person.serious_illness) == (
        "13812345678", "cpc_member", "uraemia")
    assert person.community_id is not None
    report = tmp_path / "report.xlsx"
    exchange.write_report(report, result)
    first = [[c.value for c in row] for row in openpyxl.load_workbook(report).worksheets[0]]
    assert first[0][0].startswith("未导入的列：备注") and first[2][0] == "原行号"
    assert first[3][0] == 3


def test_excel_error_values_refuse_the_row_naming_the_cell(app, rows, tmp_path, run_import):
    """Item 7: a failed VLOOKUP's #N/A (an error-typed cell) or a #REF! pasted as text is
    never imported as a value."""
    path = _write(tmp_path / "errors.xlsx", [("登记", _form_rows(rows, [
        rows(1, name="#N/A"), rows(2, hukou_address="#REF!"), rows(3)]), False)])
    with zipfile.ZipFile(path) as z:
        assert b't="e"><v>#N/A</v>' in z.read("xl/worksheets/sheet1.xml")
    result = run_import(path)
    assert (result.created, result.failed) == (1, 2)
    assert "姓名（单元格A2）是Excel错误值“#N/A”" in result.errors[0][2][0]
    assert "户口所在地（单元格Q3）是Excel错误值“#REF!”" in result.errors[1][2][0]


def test_F4_an_id_number_from_a_number_cell_is_refused_as_excel_shows_it(
        app, rows, tmp_path, run_import):
    """Item 8 and item 13: an 18-digit integer written exactly into a number cell, and the
    rounded double Excel keeps, are refused with the 15-digit message; the report shows
    the number as Excel does, not the binary float's digits."""
    exact, rounded = rows(1), rows(2)
    exact_no, rounded_no = int(exact["id_card_no"]), int(rounded["id_card_no"])
    path = _write(tmp_path / "numbers.xlsx", [("登记", _form_rows(rows, [
        exact | {"id_card_no": exact_no}, rounded | {"id_card_no": float(rounded_no)}]), False)])
    _replace_in_sheet(path, repr(float(exact_no)), str(exact_no))
    result = run_import(path)
    assert (result.created, result.failed) == (0, 2)
    for (_, shown, reasons), number in zip(result.errors, (exact_no, rounded_no), strict=True):
        in_excel = str(round(number, -3))  # Excel keeps 15 significant digits
        assert shown["id_card_no"] == in_excel
        assert reasons == [f"身份证号：数字{in_excel}超过15位，Excel已丢失末尾数字，"
                           "请将该列设为文本格式后重新填写"]


def test_invisible_characters_are_removed_from_names(app, rows, tmp_path, run_import):
    """Item 9: a non-breaking space and a zero-width space pasted into a name."""
    path = _write(tmp_path / "names.xlsx", [("登记", _form_rows(rows, [
        rows(1, name="\u00a0王\u200b小\u00a0明\ufeff")]), False)])
    assert run_import(path).created == 1
    assert _person(app, "00001001").name == "王小明"


def test_messages_name_nonexistent_dates_and_masked_numbers(app, rows, tmp_path, run_import):
    """Item 13: "1958-02-30" does not exist; a masked ID cannot register a person."""
    path = _write(tmp_path / "messages.xlsx", [("登记", _form_rows(rows, [
        rows(1, birth_date="1958-02-30"), rows(2, id_card_no="320502**********1X")]), False)])
    result = run_import(path)
    assert result.failed == 2
    assert result.errors[0][2] == ["出生日期：日期“1958-02-30”不存在（没有这一月或这一天），请核对"]
    assert result.errors[1][2] == ["身份证号为脱敏号码（含*），不能用于登记新人员，请填写完整的18位身份证号"]


def test_the_cli_import_checks_the_file_before_any_parser_and_sizes_its_bar_from_it(
        app, rows, tmp_path, monkeypatch):
    """Item 10: a zip bomb is refused by the checks, and a good file imported, without
    openpyxl ever opening the file (it used to, only to size the progress bar)."""
    import openpyxl.reader.excel

    from core.registry import excel

    opened = []

    def spy(*args, **kwargs):
        opened.append(args)
        raise AssertionError("openpyxl must not open an import")

    monkeypatch.setattr(openpyxl, "load_workbook", spy)
    monkeypatch.setattr(openpyxl.reader.excel, "load_workbook", spy)
    monkeypatch.setattr(excel, "load_workbook", spy)
    bomb = tmp_path / "bomb.xlsx"
    good = tmp_path / "good.xlsx"
    excel.write_export(good, [rows(1), rows(2)])
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item.filename, src.read(item))
        out.writestr("xl/media/padding.bin", b"\0" * (8 * 1024 * 1024))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["import", "retirees", str(bomb)])
    assert refused.exit_code != 0 and "压缩比异常" in refused.output
    done = runner.invoke(args=["import", "retirees", str(good)])
    assert done.exit_code == 0, done.output
    assert "读取的工作表：基本信息登记表" in done.output and "新增 2" in done.output
    assert excel.read_rows(good).size_hint == 2
    assert opened == []
