"""Excel template, import, export and error report (A30–A31, A33, F1–F9)."""
import datetime as dt
import io
import os
import re
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from core.errors import RuleViolation
from core.registry import excel
from core.registry.excel import (
    COLUMNS,
    DATA_SHEET,
    FORM_INSTRUCTIONS,
    HEADERS,
    INSTRUCTIONS_SHEET,
    open_workbook_checked,
    read_rows,
    write_error_report,
    write_export,
    write_template,
)
from core.registry.fields import FORM_FIELDS, FormField

INVALID = "文件不是有效的Excel（.xlsx）文件："


def record(**values):
    """A full export/import dict: every form field, None unless given."""
    row = {f.name: None for f in FORM_FIELDS}
    row.update(values)
    return row


def minimal(i):
    return record(
        name=f"张三{i}", gender="male" if i % 2 else "female",
        birth_date=dt.date(1940 + i % 40, 1 + i % 12, 1 + i % 28),
        id_card_no=f"3205051950{i:08d}", personal_no=f"{i:08d}",
        retirement_date=dt.date(2000 + i % 20, 1, 5), retirement_type="retired",
        benefit="basic_pension", category="enterprise", residence_type="local",
    )


def full(i):
    return minimal(i) | dict(
        phone=f"1390000{i % 10000:04d}", employer=f"{i % 500:05d}",
        community=f"320505{i % 999:06d}", hukou_address=f"苏州市姑苏区人民路{i}号",
        residence_address=f"苏州市姑苏区人民路{i}号", family_status="none",
        serious_illness="none", party_cadre=False, widowed_alone=i % 7 == 0,
        disabled=False, employer_handler_name="李四", employer_handler_date=dt.date(2024, 3, 1),
    )


SAMPLES = [
    record(
        name='=HYPERLINK("http://evil.example","点我")', gender="male",
        birth_date=dt.date(1950, 1, 5), id_card_no="32050519500105123X", personal_no="00012345",
        retirement_date=dt.date(2010, 1, 5), retirement_type="retired", benefit="basic_pension",
        political_status="cpc_member", phone="051265001234", category="enterprise",
        employer="00123", party_cadre=True, residence_type="local", community="320505001001",
        hukou_address="苏州市姑苏区人民路1号", residence_address="-", family_status="minimum_living",
        serious_illness="tumour", widowed_alone=False, disabled=True, health_notes="@提醒：按时复查",
        employer_handler_name="王经办", employer_handler_date=dt.date(2024, 12, 1),
        community_worker_name="＝全角等号", community_worker_date=dt.date(2024, 12, 2),
        retiree_signed_name="'=已带引号", retiree_signed_date=dt.date(2024, 12, 3),
    ),
    record(
        name="李梅", gender="female", birth_date=dt.date(1958, 2, 28),
        id_card_no="320503195802280022", personal_no="00000001",
        retirement_date=dt.date(2008, 3, 1), retirement_type="retired_support",
        benefit="living_allowance", category="agreement_retained", custodian_agency="0007",
        residence_type="outside", phone="+86 512 6500 1234",
    ),
    record(
        name="赵六", gender="male", birth_date=dt.date(1945, 12, 31),
        id_card_no="320502194512310017", personal_no="12345678",
        retirement_date=dt.date(2005, 12, 31), retirement_type="resigned",
        benefit="disability_pension", category="self_employed", custodian_agency="0001",
        residence_type="local", community="320505002003", family_status="extreme_poverty",
        serious_illness="no_self_care", widowed_alone=True, disabled=False, party_cadre=False,
    ),
]


def rows_of(source):
    """read_rows as a list of (row_no, dict) after checking each row converted cleanly."""
    out = []
    for row_no, raw in read_rows(source):
        assert raw.pop("_errors") == [], (row_no, raw)
        out.append((row_no, raw))
    return out


def make_sheet(path, rows, title=DATA_SHEET):
    """A hand-made workbook as a user would fill it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def required_headers():
    return [c.header for c in COLUMNS if c.field.required]


# ------------------------------------------------------------------ template

def test_A31_template_has_headers_in_form_order_with_required_marks(tmp_path):
    write_template(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")[DATA_SHEET]
    titles = [c.value for c in ws[1]]
    assert titles == [("*" if f.required else "") + HEADERS[f.name] for f in FORM_FIELDS]
    assert titles[:5] == ["*姓名", "*性别", "*出生日期", "*身份证号", "*个人编号"]
    assert "原工作单位编号" in titles and "就业管理机构编号" in titles and "社区代码" in titles
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["D"].width >= 20  # 18-character ID numbers stay readable


def test_A31_template_has_instructions_sheet(tmp_path):
    write_template(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")[INSTRUCTIONS_SHEET]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert len(FORM_INSTRUCTIONS) == 9
    for line in FORM_INSTRUCTIONS:  # F1–F9 verbatim
        assert line in text
    assert "不足8位的前面加“0”补足8位" in text
    assert "不包括吴中区、相城区、工业园区" in text
    for f in FORM_FIELDS:  # the reference columns' "填…编号；" is said once (issue #14 item 14)
        assert re.sub(r"^填[^；]*编号；", "", f.help or "") in text
    assert "填12位社区（村）代码" in text
    assert "填参保单位编号；填单位编号" not in text


def test_F6_template_drop_downs_show_chinese_labels(tmp_path):
    write_template(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")[DATA_SHEET]
    letter = {c.value.lstrip("*"): c.column_letter for c in ws[1]}
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists[f"{letter['性别']}2"] == '"男,女"'
    assert lists[f"{letter['家庭状况']}2"] == '"无,特困,低保"'
    assert lists[f"{letter['鳏寡']}2"] == '"是,否"'
    assert lists[f"{letter['重病情况']}2"].startswith('"无,精神病,恶性肿瘤')
    choice_or_bool = [f for f in FORM_FIELDS if f.choices or f.kind == "bool"]
    assert len(lists) == len(choice_or_bool)


def test_template_long_choice_lists_go_to_hidden_sheet():
    long = FormField("x", "长列表", "s", {f"c{i}": f"很长的选项名称{i}" for i in range(40)}, kind="choice")
    wb = openpyxl.Workbook()
    excel._add_validations(wb, wb.active, [excel.Column("x", "长列表", long)])
    lists = wb[excel.LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    assert lists["A40"].value == "很长的选项名称39"
    assert wb.active.data_validations.dataValidation[0].formula1 == "'代码表'!$A$1:$A$40"


def test_F4_template_formats_number_like_columns_as_text_and_dates(tmp_path):
    write_template(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")[DATA_SHEET]
    fmt = {c.value.lstrip("*"): ws.column_dimensions[c.column_letter].number_format for c in ws[1]}
    assert fmt["个人编号"] == fmt["身份证号"] == fmt["联系电话"] == fmt["社区代码"] == "@"
    assert fmt["出生日期"] == fmt["退休日期"] == "yyyy-mm-dd"


def test_A31_blank_template_imports_as_no_rows(tmp_path):
    write_template(tmp_path / "t.xlsx")
    assert list(read_rows(tmp_path / "t.xlsx")) == []


# ------------------------------------------------------------------ export / round trip

def test_F4_personal_no_keeps_leading_zeros_round_trip(tmp_path):
    path = tmp_path / "e.xlsx"
    assert write_export(path, SAMPLES) == 3
    got = rows_of(path)
    assert [n for n, _ in got] == [2, 3, 4]
    assert [r for _, r in got] == SAMPLES
    assert got[0][1]["personal_no"] == "00012345"
    assert got[1][1]["personal_no"] == "00000001"


def test_export_neutralises_formula_injection_in_file(tmp_path):
    path = tmp_path / "e.xlsx"
    nasty = {"hukou_address": "\t=1+1", "health_notes": "+cmd|' /C calc'!A0"}
    write_export(path, [SAMPLES[0] | nasty])
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    by_header = {c.value.lstrip("*"): c.column_letter for c in ws[1]}

    def cell(header):
        return ws[f"{by_header[header]}2"]

    assert cell("姓名").value == "'" + SAMPLES[0]["name"]
    assert cell("姓名").data_type == "s"  # text, not a formula
    assert cell("现居住地").value == "'-"
    assert cell("社区工作人员").value == "'＝全角等号"
    assert cell("退休人员本人签字").value == "''=已带引号"
    assert cell("户口所在地").value == "'\t=1+1"
    assert cell("健康状况").value.startswith("'+cmd")
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    raw = dict(rows_of(path))[2]
    assert raw["name"] == SAMPLES[0]["name"]
    assert raw["health_notes"] == "+cmd|' /C calc'!A0"


def test_export_renders_labels_bools_dates_and_text(tmp_path):
    path = tmp_path / "e.xlsx"
    write_export(path, SAMPLES[:1])
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    values = {c.value.lstrip("*"): v for c, v in zip(ws[1], ws[2], strict=True)}
    assert values["性别"].value == "男"
    assert values["家庭状况"].value == "低保"
    assert values["区以上党委管理干部"].value == "是"
    assert values["鳏寡"].value == "否"
    assert values["残疾"].value == "是"
    assert values["出生日期"].value == dt.datetime(1950, 1, 5)
    assert values["出生日期"].number_format == "yyyy-mm-dd"
    assert values["个人编号"].value == "00012345"
    assert values["个人编号"].number_format == "@"
    assert values["政治面貌"].value == "中共党员"


def test_export_headers_match_template(tmp_path):
    write_template(tmp_path / "t.xlsx")
    write_export(tmp_path / "e.xlsx", [])
    template = openpyxl.load_workbook(tmp_path / "t.xlsx")[DATA_SHEET]
    export = openpyxl.load_workbook(tmp_path / "e.xlsx")[DATA_SHEET]
    assert [c.value for c in export[1]] == [c.value for c in template[1]]


def test_A33_export_watermark_sheet_and_properties(tmp_path):
    path = tmp_path / "e.xlsx"
    mark = "2024-12-05 导出人：姑苏区退管中心 张三，仅供资格认证使用"
    write_export(path, SAMPLES, watermark=mark)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == DATA_SHEET
    texts = [c.value for row in wb["数据发放说明"].iter_rows() for c in row]
    assert mark in texts
    assert wb.properties.description == mark
    assert len(rows_of(path)) == 3


def test_export_extra_columns_are_written_and_ignored_on_import(tmp_path):
    path = tmp_path / "e.xlsx"
    extras = [("management_state", "管理状态", {"community_managed": "社区管理"}),
              ("form_complete", "登记表完整"), ("archive_transferred_on", "档案移交日期")]
    rows = [SAMPLES[1] | {"management_state": "community_managed", "form_complete": True,
                          "archive_transferred_on": dt.date(2024, 12, 20)}]
    write_export(path, rows, extra_columns=extras)
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    tail = [(c.value, v.value) for c, v in zip(ws[1], ws[2], strict=True)][-3:]
    assert tail == [("管理状态", "社区管理"), ("登记表完整", "是"),
                    ("档案移交日期", dt.datetime(2024, 12, 20))]
    # The state is read for the importer's refusal of new people (exchange); the rest ignored.
    assert [r for _, r in rows_of(path)] == [SAMPLES[1] | {"_management_state": "社区管理"}]
    assert read_rows(path).ignored == ["登记表完整", "档案移交日期"]
    with pytest.raises(ValueError):
        write_export(tmp_path / "x.xlsx", [], extra_columns=[("x", "姓名")])


# ------------------------------------------------------------------ reading user files

def test_A31_read_rows_maps_labels_and_formats_to_codes(tmp_path):
    headers = ["备注", "个人编号", "*姓名", "性别", "出生日期", "身份证号", "退休日期", "退休类别",
               "领取待遇", "人员类别", "居住类型", "鳏寡", "残疾", "区以上党委管理干部", "家庭状况",
               "联系电话", "社区代码"]
    path = make_sheet(tmp_path / "u.xlsx", [
        ["苏州市企业退休人员基本信息登记表"],  # a title row above the header
        headers,
        ["无关", 12345.0, "  王五 ", "男", "1950/1/5", "32050519500105123x", "20100105",
         "退休", "基本养老金", "企业退休", "本地人员", "是", "N", 1, "特困", 51265001234,
         320505001001],
        [None, "00000002", "钱七", "female", dt.datetime(1951, 2, 3), "320505195102030025",
         20110203, "retired", "生活费", "协保", "居外人员", "否", "True", "0", "低保", None, None],
        [None, "3", "孙八", "女", "1952-03-04", "320505195203040046", dt.date(2012, 3, 4), "退养",
         "伤残抚恤金", "自谋职业", "本地人员", "y", "false", False, "无", None, "320505001001"],
    ])
    got = dict(rows_of(path))
    assert set(got) == {3, 4, 5}
    a, b, c = got[3], got[4], got[5]
    assert "备注" not in a  # unknown columns are ignored
    assert "political_status" not in a  # absent columns are omitted, not None
    assert a["name"] == "王五"
    assert a["personal_no"] == "12345"  # padding to 8 digits is the validator's job (F4)
    assert a["gender"] == "male" and b["gender"] == "female" and c["gender"] == "female"
    assert a["birth_date"] == dt.date(1950, 1, 5)
    assert a["retirement_date"] == dt.date(2010, 1, 5)
    assert b["birth_date"] == dt.date(1951, 2, 3) and b["retirement_date"] == dt.date(2011, 2, 3)
    assert c["birth_date"] == dt.date(1952, 3, 4) and c["retirement_date"] == dt.date(2012, 3, 4)
    assert a["id_card_no"] == "32050519500105123x"
    assert (a["widowed_alone"], a["disabled"], a["party_cadre"]) == (True, False, True)
    assert (b["widowed_alone"], b["disabled"], b["party_cadre"]) == (False, True, False)
    assert (c["widowed_alone"], c["disabled"], c["party_cadre"]) == (True, False, False)
    assert (a["family_status"], b["family_status"], c["family_status"]) == (
        "extreme_poverty", "minimum_living", "none")
    assert a["category"] == "enterprise" and b["category"] == "agreement_retained"
    assert c["category"] == "self_employed" and c["retirement_type"] == "retired_support"
    assert b["residence_type"] == "outside" and b["community"] is None
    assert a["phone"] == "51265001234" and a["community"] == "320505001001"


def test_A31_read_rows_reports_unknown_label_per_row(tmp_path):
    headers = [c.title for c in COLUMNS]
    good = [excel._render(c, v) for c, v in zip(COLUMNS, SAMPLES[2].values(), strict=True)]
    bad = list(good)
    bad[1] = "男性"  # 性别
    bad[2] = "1950年13月40日"  # 出生日期
    bad[20] = "也许"  # 鳏寡
    path = make_sheet(tmp_path / "u.xlsx", [headers, good, bad, good])
    got = list(read_rows(path))
    assert [n for n, _ in got] == [2, 3, 4]
    assert got[0][1]["_errors"] == [] and got[2][1]["_errors"] == []
    row_no, raw = got[1]
    assert row_no == 3
    errors = {e.field: e.message for e in raw["_errors"]}
    assert set(errors) == {"gender", "birth_date", "widowed_alone"}
    assert all(isinstance(e, RuleViolation) for e in raw["_errors"])
    assert "男性" in errors["gender"] and "男、女" in errors["gender"]
    assert "1950年13月40日" in errors["birth_date"]
    assert "是" in errors["widowed_alone"]
    assert raw["gender"] is None and raw["name"] == "赵六"


def test_F4_id_card_number_stored_as_number_is_reported(tmp_path):
    path = make_sheet(tmp_path / "u.xlsx", [required_headers(),
                                            ["甲", "男", "1950-01-05", 3.20505195001051e17]])
    (_, raw), = read_rows(path)
    assert [e.field for e in raw["_errors"]] == ["id_card_no"]
    assert "15位" in raw["_errors"][0].message


def test_read_rows_skips_empty_rows_and_keeps_row_numbers(tmp_path):
    path = tmp_path / "u.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(required_headers())
    ws["A2"] = "甲"
    ws["A3"] = "   "
    ws["A7"] = "乙"  # rows 4–6 do not exist in the file at all
    wb.save(path)
    assert [(n, r["name"]) for n, r in read_rows(path)] == [(2, "甲"), (7, "乙")]


def test_A31_missing_required_column_is_refused_with_chinese_message(tmp_path):
    headers = [h for h in required_headers() if h not in ("个人编号", "性别")]
    path = make_sheet(tmp_path / "u.xlsx", [headers, ["甲"]])
    with pytest.raises(RuleViolation) as exc:
        read_rows(path)  # raises on the call, before any row is produced
    assert exc.value.message == "工作表“基本信息登记表”：缺少必填列：性别、个人编号"


def test_A31_duplicate_column_is_refused(tmp_path):
    path = make_sheet(tmp_path / "u.xlsx", [required_headers() + ["姓名"]])
    with pytest.raises(RuleViolation, match="“姓名”列重复"):
        read_rows(path)


def test_A31_read_rows_accepts_streams(tmp_path):
    path = tmp_path / "e.xlsx"
    write_export(path, SAMPLES)
    data = path.read_bytes()

    class ForwardOnly(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.inner.readinto(b)

    for stream in (io.BytesIO(data), ForwardOnly()):
        assert [r for _, r in rows_of(stream)] == SAMPLES


# ------------------------------------------------------------------ refusing bad files

def zip_bytes(members, compresslevel=6):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def workbook_members(tmp_path):
    write_template(tmp_path / "t.xlsx")
    with zipfile.ZipFile(tmp_path / "t.xlsx") as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_read_rows_refuses_files_that_are_not_xlsx(tmp_path):
    members = workbook_members(tmp_path)
    no_sheets = dict(members)
    no_sheets["xl/workbook.xml"] = re.sub(rb"<sheet [^>]*/>", b"", members["xl/workbook.xml"])
    cases = {
        "random.xlsx": os.urandom(4096),
        "csv.xlsx": "姓名,性别,个人编号\n张三,男,00012345\n".encode(),
        "empty.xlsx": b"",
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088),
        "zip.xlsx": zip_bytes({"readme.txt": b"hello"}),
        "no_sheets.xlsx": zip_bytes(no_sheets),
        "truncated.xlsx": (tmp_path / "t.xlsx").read_bytes()[:2000],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(RuleViolation) as exc:
            read_rows(tmp_path / name)
        assert exc.value.message.startswith(INVALID), name
    make_sheet(tmp_path / "no_header.xlsx", [["随便什么"], ["1", "2"]])
    with pytest.raises(RuleViolation, match="未找到表头"):
        read_rows(tmp_path / "no_header.xlsx")
    with pytest.raises(RuleViolation, match="无法打开文件"):
        read_rows(tmp_path / "missing.xlsx")


def test_read_rows_refuses_macro_workbooks(tmp_path):
    members = workbook_members(tmp_path)
    with_vba = members | {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"}
    macro_type = dict(members)
    macro_type["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"sheet.main+xml", b"sheet.macroEnabled.main+xml")
    for name, data in (("a.xlsm", with_vba), ("b.xlsx", macro_type)):
        (tmp_path / name).write_bytes(zip_bytes(data))
        with pytest.raises(RuleViolation, match="含有宏"):
            read_rows(tmp_path / name)


def test_open_workbook_checked_refuses_zip_bombs(tmp_path):
    members = workbook_members(tmp_path)
    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(zip_bytes(members | {"xl/media/pad.bin": bytes(20 * 2**20)}))
    with pytest.raises(RuleViolation, match="压缩比异常"):
        open_workbook_checked(bomb)

    big = tmp_path / "big.xlsx"  # past a 200 MB cap, streamed so the test stays small
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        with zf.open("xl/media/pad.bin", "w", force_zip64=True) as out:
            chunk = bytes(2**20)
            for _ in range(201):
                out.write(chunk)
    with pytest.raises(RuleViolation, match="压缩比异常"):  # zeros: a bomb by its ratio
        open_workbook_checked(big)
    with pytest.raises(RuleViolation, match="解压后内容过大"):
        open_workbook_checked(big, max_uncompressed=200 * 2**20, max_ratio=10**6)

    fine = tmp_path / "fine.xlsx"
    fine.write_bytes(zip_bytes(members | {"xl/media/pad.bin": os.urandom(2 * 2**20)}))
    with pytest.raises(RuleViolation, match="解压后内容过大"):
        open_workbook_checked(fine, max_uncompressed=2**20)
    open_workbook_checked(fine).close()


# ------------------------------------------------------------------ error report

def test_A31_error_report_lists_rows_reasons_and_summary(tmp_path):
    path = tmp_path / "err.xlsx"
    errors = [
        (3, {"name": "张三", "personal_no": "00012345", "id_card_no": "32050519500105123X"},
         ["性别：无法识别“男性”", RuleViolation("个人编号已存在", field="personal_no", rule="F4")]),
        (7, {"name": "=cmd()", "personal_no": None}, ["缺少身份证号"]),
    ]
    assert write_error_report(path, errors, summary={"总行数": 10, "成功": 8, "失败": 2}) == 2
    wb = openpyxl.load_workbook(path)
    rows = [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]
    assert rows[0] == ["原行号", "*姓名", "*身份证号", "*个人编号", "错误原因"]
    assert rows[1] == [3, "张三", "32050519500105123X", "00012345", "性别：无法识别“男性”；个人编号已存在"]
    assert rows[2] == [7, "'=cmd()", None, None, "缺少身份证号"]
    summary = [[c.value for c in row] for row in wb.worksheets[1].iter_rows()]
    assert summary == [["项目", "数量"], ["总行数", 10], ["成功", 8], ["失败", 2]]


# ------------------------------------------------------------------ other writers' files

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def package(sheet_xml, shared=None, styles=None, workbook_pr=""):
    """A hand-assembled xlsx (one sheet called 基本信息登记表) as other programs write them."""
    rels = [f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>']
    members = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{workbook_pr}'
        f'<sheets><sheet name="{DATA_SHEET}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    if shared is not None:
        members["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN_NS}" xmlns:x="{MAIN_NS}">{shared}</sst>'
        rels.append(f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" '
                    'Target="/xl/sharedStrings.xml"/>')
    if styles is not None:
        members["xl/styles.xml"] = f'<styleSheet xmlns="{MAIN_NS}">{styles}</styleSheet>'
        rels.append(f'<Relationship Id="rId3" Type="{REL_NS}/styles" Target="styles.xml"/>')
    members["xl/_rels/workbook.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(rels) + "</Relationships>")
    return zip_bytes({k: v.encode() for k, v in members.items()})


def sheet_rows(data):
    book = excel._Xlsx(io.BytesIO(data))
    try:
        return list(book.rows(book.sheets[0][1]))
    finally:
        book.close()


def test_reader_understands_what_other_programs_write():
    # Prefixed namespace, rich text, phonetic runs, a formula's cached result, an error,
    # booleans, ISO dates, the 1904 date system, a CJK built-in date format, a custom
    # date format overriding a built-in id, and cells and rows without r attributes.
    shared = ('<x:si><x:t>男</x:t></x:si>'
              '<x:si><x:r><x:t>张</x:t></x:r><x:r><x:rPr><x:b/></x:rPr><x:t>三</x:t></x:r>'
              '<x:rPh sb="0" eb="1"><x:t>ZHANG</x:t></x:rPh></x:si>'
              '<x:si><x:t>_x005F_x0041_</x:t></x:si>')
    styles = ('<numFmts count="1"><numFmt numFmtId="14" formatCode="0.00"/></numFmts>'
              '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="31"/><xf numFmtId="14"/>'
              '<xf numFmtId="22"/></cellXfs>')
    sheet = (f'<x:worksheet xmlns:x="{MAIN_NS}"><x:sheetData>'
             '<x:row r="2"><x:c r="B2" t="s"><x:v>1</x:v></x:c><x:c t="s"><x:v>0</x:v></x:c>'
             '<x:c><x:v>12345</x:v></x:c><x:c t="s"><x:v>2</x:v></x:c></x:row>'
             '<x:row><x:c r="A3" s="1"><x:v>0</x:v></x:c><x:c s="2"><x:v>7</x:v></x:c>'
             '<x:c s="3"><x:v>1.5</x:v></x:c><x:c t="b"><x:v>1</x:v></x:c>'
             '<x:c t="str"><x:f>A1&amp;"x"</x:f><x:v>ax</x:v></x:c><x:c t="e"><x:v>#N/A</x:v></x:c>'
             '<x:c t="d"><x:v>2024-01-05T00:00:00</x:v></x:c>'
             '<x:c t="inlineStr"><x:is><x:r><x:t xml:space="preserve"> a&amp;b </x:t></x:r>'
             '<x:r><x:t>c</x:t></x:r></x:is></x:c><x:c r="K3"/><x:c r="L3" t="inlineStr"/>'
             '</x:row></x:sheetData></x:worksheet>')
    data = package(sheet, shared, styles, '<workbookPr date1904="1"/>')
    assert sheet_rows(data) == [
        (2, {1: "张三", 2: "男", 3: 12345, 4: "_x0041_"}),
        (3, {0: 0, 1: 7.0, 2: dt.datetime(1904, 1, 2, 12), 3: True, 4: "ax", 5: "#N/A",
             6: dt.datetime(2024, 1, 5), 7: " a&b c"}),
    ]
    # The 1900 system (the default), with Excel's phantom 29 February 1900.
    data = package(sheet.replace("<x:v>0</x:v></x:c><x:c s", "<x:v>61</x:v></x:c><x:c s"),
                   shared, styles)
    assert sheet_rows(data)[1][1][0] == dt.date(1900, 3, 1)


def test_read_rows_numbers_rows_and_columns_as_excel_does(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    for col, header in enumerate(required_headers(), 3):  # the table starts at C4
        ws.cell(row=4, column=col, value=header)
    ws["C6"], ws["D6"], ws["G6"] = "甲", "男", "00000007"
    ws["A9"] = "表外的备注"
    wb.save(tmp_path / "u.xlsx")
    got = [(n, r["name"], r["gender"], r["personal_no"]) for n, r in read_rows(tmp_path / "u.xlsx")]
    assert got == [(6, "甲", "male", "00000007"), (9, None, None, None)]


def test_read_rows_keeps_memory_small_for_far_away_cells(tmp_path):
    """Two cells at opposite corners of the grid must not make a dense 17-billion-cell
    table (python-calamine asks for 550 GB here and aborts the process)."""
    headers = "".join(f'<c r="{get_column_letter(i)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                      for i, h in enumerate(required_headers(), 1))
    sheet = (f'<worksheet xmlns="{MAIN_NS}"><dimension ref="A1:XFD1048576"/><sheetData>'
             f'<row r="1">{headers}</row>'
             '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>远</t></is></c></row>'
             '</sheetData></worksheet>')
    (tmp_path / "far.xlsx").write_bytes(package(sheet))
    got = list(read_rows(tmp_path / "far.xlsx"))
    assert [n for n, _ in got] == [1048576]
    assert got[0][1]["name"] is None


def test_read_rows_refuses_dtds_and_broken_sheets(tmp_path):
    bomb = (f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>'
            f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c t="inlineStr"><is><t>&a;</t>'
            '</is></c></row></sheetData></worksheet>')
    (tmp_path / "dtd.xlsx").write_bytes(package(bomb))
    with pytest.raises(RuleViolation) as exc:
        read_rows(tmp_path / "dtd.xlsx")
    assert exc.value.message.startswith(INVALID)

    path = tmp_path / "e.xlsx"
    write_export(path, (minimal(i) for i in range(300)))
    members = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            members[name] = zf.read(name)
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"][:-5000]  # cut short
    (tmp_path / "cut.xlsx").write_bytes(zip_bytes(members))
    rows = read_rows(tmp_path / "cut.xlsx")  # the header is fine
    with pytest.raises(RuleViolation) as exc:
        list(rows)
    assert exc.value.message.startswith(INVALID)


# ------------------------------------------------------------------ writer details

def test_export_escapes_text_and_round_trips_it(tmp_path):
    path = tmp_path / "e.xlsx"
    texts = {"name": "A&B <c> 'x'", "hukou_address": "  前后有空格  ",
             "residence_address": "第一行\r\n第二行\t制表", "health_notes": "字面的_x0041_不是A",
             "employer_handler_name": "控制\x01字符\x1f", "community_worker_name": "😀 表情"}
    write_export(path, [SAMPLES[1] | texts])
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    by_header = {c.value.lstrip("*"): c.column_letter for c in ws[1]}
    assert ws[f"{by_header['户口所在地']}2"].value == "  前后有空格  "  # xml:space="preserve"
    assert ws[f"{by_header['现居住地']}2"].value == "第一行\r\n第二行\t制表"  # \r survives XML
    raw = rows_of(path)[0][1]
    assert raw == SAMPLES[1] | texts | {
        "hukou_address": "前后有空格",  # imports strip cells, as before
        "employer_handler_name": "控制字符",  # characters XML cannot hold are dropped
    }


def test_export_writes_extras_dates_numbers_and_old_dates(tmp_path):
    path = tmp_path / "e.xlsx"
    extras = [("at", "时间"), ("n", "数量"), ("d", "小数")]
    rows = [SAMPLES[2] | {"at": dt.datetime(2024, 5, 6, 7, 8, 9), "n": 42, "d": 2.5,
                          "employer_handler_date": dt.date(1899, 5, 1)}]
    write_export(path, rows, extra_columns=extras)
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    values = {c.value.lstrip("*"): v for c, v in zip(ws[1], ws[2], strict=True)}
    assert values["时间"].value == dt.datetime(2024, 5, 6, 7, 8, 9)
    assert (values["数量"].value, values["小数"].value) == (42, 2.5)
    assert values["单位经办日期"].value == "1899-05-01"  # Excel has no dates before 1900
    assert rows_of(path)[0][1]["employer_handler_date"] == dt.date(1899, 5, 1)


def test_export_package_is_plain_zip_with_properties(tmp_path):
    path = tmp_path / "e.xlsx"
    write_export(path, SAMPLES, watermark="给<某>&单位")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for info in infos:  # no ZIP64 extensions unless a member passes 2 GB (Excel may balk)
            assert info.extract_version == 20, info.filename
        assert b"watermark" not in zf.read("docProps/core.xml")
    wb = openpyxl.load_workbook(path)
    assert wb.properties.subject == wb.properties.description == "给<某>&单位"
    assert wb[DATA_SHEET].freeze_panes == "A2"
    assert wb[DATA_SHEET]["A1"].font.bold and wb[DATA_SHEET]["A1"].font.color.rgb == "FFC00000"


def test_export_refuses_more_rows_than_a_sheet_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "_EXCEL_MAX_ROW", 5)
    with pytest.raises(RuleViolation, match="最大行数"):
        write_export(tmp_path / "e.xlsx", (minimal(i) for i in range(10)))


# ------------------------------------------------------------------ streaming

def traced_peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_A31_export_and_import_memory_does_not_grow_with_rows(tmp_path):
    """Peak memory for 5,000 rows is that for 1,000: nothing is held per row (both
    sides are Python code, so tracemalloc sees their allocations)."""

    def write(n):
        rows = (minimal(i) for i in range(n))
        return traced_peak(lambda: write_export(tmp_path / f"{n}.xlsx", rows))

    def read(n):
        return traced_peak(lambda: sum(1 for _ in read_rows(tmp_path / f"{n}.xlsx")))

    small_w, big_w = write(1000), write(5000)
    small_r, big_r = read(1000), read(5000)
    assert big_w - small_w < 200_000
    assert big_r - small_r < 200_000
    assert max(big_w, big_r) < 10 * 2**20


CHILD = """
import sys
from core.registry.excel import read_rows, write_export
from tests.registry.test_excel import full

path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key + ":"))


with open("/proc/self/clear_refs", "w") as fh:  # restart the peak (VmHWM) from here
    fh.write("5")
before = status("VmRSS")
if mode == "write":
    count = write_export(path, (full(i) for i in range(n)))
else:
    count = 0
    for row_no, raw in read_rows(path):
        assert not raw["_errors"], (row_no, raw["_errors"])
        count += 1
    assert row_no == n + 1 and raw["personal_no"] == f"{n - 1:08d}", (row_no, raw)
print(count, status("VmHWM") - before)
"""


def child_peak_growth(path, n, mode):
    """Rows done and growth of the peak RSS (bytes) of a fresh process doing one pass:
    every allocation counts, C and Rust ones too, which tracemalloc would not see."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(n), mode], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parents[2])
    count, growth = map(int, out.stdout.split())
    return count, growth


@pytest.mark.slow
def test_A31_100k_rows_stream_in_bounded_memory(tmp_path):
    """100,000 full rows out and back in: a fresh process's peak RSS grows by a few MB
    (about 1 MB measured), as for 10,000 rows (holding the rows would be 180 MB; a
    whole-sheet reader such as python-calamine 250 MB)."""
    small, big = tmp_path / "small.xlsx", tmp_path / "big.xlsx"
    count, small_w = child_peak_growth(small, 10_000, "write")
    assert count == 10_000
    _, small_r = child_peak_growth(small, 10_000, "read")
    count, big_w = child_peak_growth(big, 100_000, "write")
    assert count == 100_000
    count, big_r = child_peak_growth(big, 100_000, "read")
    assert count == 100_000
    growth = {"write 10k": small_w, "read 10k": small_r, "write 100k": big_w, "read 100k": big_r}
    assert big_w < 20 * 2**20, growth
    assert big_r < 20 * 2**20, growth
    assert big_w - small_w < 8 * 2**20, growth
    assert big_r - small_r < 8 * 2**20, growth
