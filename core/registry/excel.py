"""Excel import/export of the registration form (基本信息登记表), A30–A31, F1–F9.

Pure functions over paths/streams and iterables of dicts: no Flask, no database.
Column headers and coded values come from ``fields.FORM_FIELDS`` only, so the
template, the export and the import can never disagree (an export imports back
unchanged).

Untrusted input: ``open_workbook_checked`` and ``read_rows`` refuse non-xlsx files,
zip bombs and macro-enabled workbooks before any parser sees them; every text cell
written is neutralised against formula injection (``core.xlsx``), and restored on import.

Speed (issue #7): the template is small and made with openpyxl (comments, drop-downs,
merged cells); exports and error reports stream through ``_XlsxStream`` below, and
imports stream through ``_Xlsx`` (expat). Measurements are in their docstrings.
"""
from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import posixpath
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any, NamedTuple
from xml.etree import ElementTree
from xml.parsers import expat

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.numbers import is_date_format
from openpyxl.utils import column_index_from_string, get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from core.errors import RuleViolation
from core.registry.fields import FORM_FIELDS, FormField
from core.xlsx import neutralise, restore, safe_row

Source = str | os.PathLike[str] | IO[bytes]

DATA_SHEET = "基本信息登记表"
INSTRUCTIONS_SHEET = "填表说明"
LISTS_SHEET = "代码表"
WATERMARK_SHEET = "数据发放说明"

#: The paper form's 填表说明, verbatim (F1–F9).
FORM_INSTRUCTIONS: tuple[str, ...] = (
    '1．本表一式两份，市退管中心、退休人员居住地所在社区各一份。',
    '2．本表各栏须根据企业退休人员情况如实、准确、完整填写，或在相应□内打√，并经单位经办人员、社区工作人员及退休人员本人签字或盖章。',
    '3．原工作单位栏：填本人办理退休时所在单位名称；因原单位关闭、破产等原因退休后分流至其他单位或单位改制后更名的，填分流或改制后的单位名称；自谋职业退休和协保退休人员分别填写“自谋职业”或“协保”，并由托管其档案的就业管理机构盖章。',
    '4．个人编号栏：按市劳动保障部门或社保经办机构核发的《苏州市城镇职工医疗保险证》或《职工退休养老证》上的个人编号填写，共8位，不足8位的前面加“0”补足8位。',
    '5．所在社区栏：居住在市区统筹范围内人员在“本地人员”前□内打√，并填写居住地所在区、街道（乡镇）、社区（村）名称；居住地在市区统筹范围以外人员在“居外人员”前□内打√。',
    '6．家庭状况栏：按民政部门规定的“特困”、“低保”标准填写。',
    '7．特殊人员情况栏：其中重病人员包括精神病患者、恶性肿瘤患者、尿毒症患者和因患严重疾病而丧失生活自理能力的企业退休人员。',
    '8．居住情况中，户口所在地情况和现居住地情况分别按本人户口簿和本人实际居住地情况填写。',
    '9.本填表说明中所称“市区统筹范围”为苏州市区社会保险联网统筹区域，包括金阊区、沧浪区、平江区和高新区、虎丘区，不包括吴中区、相城区、工业园区。',
)

#: Reference fields are exchanged by code, not by name, so the header says so.
REF_HEADERS: dict[str, str] = {
    "employer": "原工作单位编号",
    "custodian_agency": "就业管理机构编号",
    "community": "社区代码",
}
#: What a reference names, for messages (a name shared by several, issue #14 item 14).
REF_LABELS: dict[str, str] = {"employer": "原工作单位", "custodian_agency": "就业管理机构",
                              "community": "社区"}
REFERENCE_SHEET = "单位与社区代码"
_REF_HINTS = {
    "employer": f"填参保单位编号，或同名只有一家的单位全称（见“{REFERENCE_SHEET}”表）",
    "custodian_agency": f"填就业管理机构编号或名称（见“{REFERENCE_SHEET}”表）",
    "community": f"填12位社区（村）代码，或本辖区内不重名的社区名称（见“{REFERENCE_SHEET}”表）",
}
# The form's own help starts with the same instruction ("填单位编号；…"): said once.
_REF_HELP_PREFIX = re.compile(r"^填[^；]*编号；")

#: Column headers by field name (without the required-marker).
HEADERS: dict[str, str] = {f.name: REF_HEADERS.get(f.name, f.label) for f in FORM_FIELDS}

REQUIRED_MARK = "*"
BOOL_LABELS = {True: "是", False: "否"}
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
# Issue #13 item 11: the defaults of config.py's IMPORT_MAX_BYTES, IMPORT_MAX_RATIO and
# IMPORT_MAX_UNPACKED (the app passes its configured values, ``exchange.import_limits``).
DEFAULT_MAX_BYTES = 400 * 1024 * 1024
DEFAULT_MAX_RATIO = 100.0
DEFAULT_MAX_UNCOMPRESSED = int(DEFAULT_MAX_BYTES * DEFAULT_MAX_RATIO)
_RATIO_MIN_MEMBER = 1024 * 1024
_HEADER_SCAN_ROWS = 20
_EXCEL_MAX_ROW = 1_048_576
_INLINE_LIST_MAX = 255  # Excel's limit for a literal list in a validation formula
_EXACT_DIGITS = 15  # Excel keeps 15 significant digits of a number

_INVALID = "文件不是有效的Excel（.xlsx）文件："
_TRUE = {"是", "y", "yes", "true", "1", "√"}
_FALSE = {"否", "n", "no", "false", "0", "×"}
_DATE_RE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # a time part is tolerated and dropped
)
_WIDTHS = {"id_card_no": 22, "hukou_address": 32, "residence_address": 32, "health_notes": 30}


class Column(NamedTuple):
    """One import/export column: field name, header text, form field (or None for extras)."""

    name: str
    header: str
    field: FormField | None

    @property
    def title(self) -> str:
        """Header cell text; required columns carry ``REQUIRED_MARK`` (A31)."""
        return REQUIRED_MARK + self.header if self.field and self.field.required else self.header


#: Import columns in paper-form order; exports append caller-supplied extras.
COLUMNS: tuple[Column, ...] = tuple(Column(f.name, HEADERS[f.name], f) for f in FORM_FIELDS)


# ---------------------------------------------------------------- formatting

def _is_text(f: FormField | None) -> bool:
    # Codes and numbers-as-text (personal_no, id_card_no, phone, unit/community codes)
    # must keep their leading zeros (F4).
    return f is not None and f.kind in ("text", "ref")


def _render(col: Column, value: Any, choices: Mapping[str, str] | None = None) -> Any:
    """Cell value for export: labels for codes, 是/否 for bools, dates as dates."""
    if value is None:
        return None
    f = col.field
    choices = choices if choices is not None else (f.choices if f else None)
    if isinstance(value, bool):
        return BOOL_LABELS[value]
    if choices and isinstance(value, str):
        return neutralise(choices.get(value, value))
    if f and f.kind == "date" and isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, (dt.date, int, float)) and not _is_text(f):
        return value
    return neutralise(str(value))


def _cell_format(col: Column) -> str | None:
    if col.field is None:
        return None
    if col.field.kind == "date":
        return DATE_FORMAT
    return TEXT_FORMAT if _is_text(col.field) else None


def _width(col: Column) -> float:
    return _WIDTHS.get(col.name, max(12, 2 * len(col.title) + 4))


_HEADER_FONT = Font(bold=True)
_REQUIRED_FONT = Font(bold=True, color="C00000")
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
_HEADER_ALIGN = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _style_header(cell: Any, col: Column) -> None:
    required = bool(col.field and col.field.required)
    cell.font = _REQUIRED_FONT if required else _HEADER_FONT
    cell.fill = _REQUIRED_FILL if required else _HEADER_FILL
    cell.alignment = _HEADER_ALIGN


def _column_help(col: Column) -> str:
    """How to fill one column: the FormField help plus format and allowed values."""
    f = col.field
    assert f is not None
    own = _REF_HELP_PREFIX.sub("", f.help or "") if f.name in _REF_HINTS else f.help
    parts = [p for p in (_REF_HINTS.get(f.name), own) if p]
    if f.kind == "date":
        parts.append("日期，格式yyyy-mm-dd，如2024-01-05")
    elif f.kind == "bool":
        parts.append("填“是”或“否”")
    elif f.choices:
        parts.append("从下拉列表选择：" + "、".join(f.choices.values()))
    if f.name in ("personal_no", "id_card_no", "phone"):
        parts.append("按文本填写，保留开头的0")
    return "；".join(parts)


def _list_choices(f: FormField) -> list[str] | None:
    if f.kind == "bool":
        return list(BOOL_LABELS.values())
    return list(f.choices.values()) if f.choices else None


def _add_validations(wb: Workbook, ws: Any, columns: Sequence[Column]) -> None:
    """Drop-down lists of Chinese labels for choice and bool columns.

    Short lists are inlined; long ones (or labels containing commas) go to a hidden sheet.
    """
    lists = None
    for idx, col in enumerate(columns, 1):
        labels = _list_choices(col.field) if col.field else None
        if not labels:
            continue
        inline = '"' + ",".join(labels) + '"'
        if len(inline) <= _INLINE_LIST_MAX and not any("," in x or '"' in x for x in labels):
            formula = inline
        else:
            if lists is None:
                lists = wb.create_sheet(LISTS_SHEET)
                lists.sheet_state = "hidden"
                lists_used = 0
            lists_used += 1
            lc = get_column_letter(lists_used)
            for r, label in enumerate(labels, 1):
                lists[f"{lc}{r}"] = neutralise(label)
            formula = f"{quote_sheetname(LISTS_SHEET)}!${lc}$1:${lc}${len(labels)}"
        dv = DataValidation(type="list", formula1=formula, allow_blank=True,
                            showErrorMessage=True, errorTitle="输入有误",
                            error=f"{col.header}请从下拉列表中选择")
        letter = get_column_letter(idx)
        dv.add(f"{letter}2:{letter}{_EXCEL_MAX_ROW}")
        ws.add_data_validation(dv)


# ---------------------------------------------------------------- template

class References(NamedTuple):
    """What the template lists for the reference columns (issue #14 item 14): the user's
    communities as (code, name, district and street), enterprises and agencies as (number,
    name)."""

    communities: Sequence[tuple[str, str, str]] = ()
    enterprises: Sequence[tuple[str, str]] = ()
    agencies: Sequence[tuple[str, str]] = ()


def _write_references(wb: Workbook, refs: References) -> None:
    """Three tables side by side. Their headers name no form column, so the import never
    mistakes this sheet for the data."""
    ws = wb.create_sheet(REFERENCE_SHEET)
    tables = [(1, "本辖区社区", ["代码", "名称", "所属区、街道"], refs.communities, [16, 20, 30]),
              (5, "参保单位", ["单位编号", "单位名称"], refs.enterprises, [14, 40]),
              (8, "就业管理机构", ["机构编号", "机构名称"], refs.agencies, [14, 30])]
    for first, title, headers, rows, widths in tables:
        ws.cell(row=1, column=first, value=title).font = Font(bold=True, size=12)
        for i, (header, width) in enumerate(zip(headers, widths, strict=True)):
            ws.cell(row=2, column=first + i, value=header).font = _HEADER_FONT
            ws.column_dimensions[get_column_letter(first + i)].width = width
            ws.column_dimensions[get_column_letter(first + i)].number_format = TEXT_FORMAT
        for r, row in enumerate(rows, 3):
            for i, value in enumerate(row):
                ws.cell(row=r, column=first + i, value=neutralise(value) if value else None)
    ws.freeze_panes = "A3"


def write_template(target: Source, references: References | None = None) -> None:
    """Write the blank import template (A30–A31): the data sheet and the 填表说明 sheet.

    Headers as on the paper form, required ones marked with ``*`` and a fill;
    drop-downs for coded fields; dates as yyyy-mm-dd and number-like fields as
    text so leading zeros survive (F4). The instructions sheet quotes F1–F9
    verbatim and explains every column. ``references``: a third sheet listing the
    codes and names the reference columns take (issue #14 item 14).
    """
    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    for idx, col in enumerate(COLUMNS, 1):
        cell = ws.cell(row=1, column=idx, value=neutralise(col.title))
        _style_header(cell, col)
        if col.field and col.field.help:
            cell.comment = Comment(col.field.help, "retiree-admin")
        dim = ws.column_dimensions[get_column_letter(idx)]
        dim.width = _width(col)
        if fmt := _cell_format(col):
            dim.number_format = fmt  # column style: cells typed later inherit it
    ws.freeze_panes = "A2"
    _add_validations(wb, ws, COLUMNS)

    info = wb.create_sheet(INSTRUCTIONS_SHEET, 1)
    info.append(["填 表 说 明"])
    info["A1"].font = Font(bold=True, size=14)
    for line in FORM_INSTRUCTIONS:
        info.append(safe_row([line]))
    info.append([])
    info.append(["各栏填写方法（带*的为必填栏）"])
    info.cell(row=info.max_row, column=1).font = Font(bold=True, size=12)
    info.append(["栏目", "是否必填", "填写要求"])
    for c in info[info.max_row]:
        c.font = _HEADER_FONT
    for col in COLUMNS:
        info.append(safe_row([col.header, "是" if col.field.required else "否", _column_help(col)]))
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 10
    info.column_dimensions["C"].width = 90
    wrap = Alignment(wrap_text=True, vertical="top")
    for r, line in enumerate(FORM_INSTRUCTIONS, 2):
        info.cell(row=r, column=1).alignment = wrap
        info.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3)
        # Excel does not grow merged rows to fit wrapped text.
        info.row_dimensions[r].height = 18 * -(-len(line) // 58)
    for r in range(info.max_row - len(COLUMNS) + 1, info.max_row + 1):
        info.cell(row=r, column=3).alignment = wrap
    if references is not None:
        _write_references(wb, references)
    wb.save(target)


# ---------------------------------------------------------------- opening safely

def _open_source(source: Source, max_bytes: int) -> tuple[IO[bytes], bool]:
    """A seekable binary handle and whether we own it (must close it)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            return open(source, "rb"), True
        except OSError as exc:
            raise RuleViolation(_INVALID + f"无法打开文件（{exc.strerror}）") from exc
    if getattr(source, "seekable", lambda: False)():
        source.seek(0)
        return source, False
    # Upload streams may be forward-only; zipfile needs to seek.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned open
    while chunk := source.read(1024 * 1024):
        spool.write(chunk)
        if spool.tell() > max_bytes:
            spool.close()
            raise RuleViolation(_INVALID + "文件过大")
    spool.seek(0)
    return spool, True


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n // 1024} KB"


def _check_zip(fh: IO[bytes], max_uncompressed: int, max_ratio: float,
               max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse non-zip, too large, zip-bomb and macro-enabled input before any parser sees
    it. Issue #13 item 11: the compression ratio is checked for each part over 1 MB and
    for the parts together (many small parts of a bomb), so the unpacked cap can be as
    large as genuine big files need."""
    head = fh.read(8)
    size = fh.seek(0, os.SEEK_END)
    fh.seek(0)
    if not head:
        raise RuleViolation(_INVALID + "文件为空")
    if size > max_bytes:
        raise RuleViolation(f"文件过大（{_size(size)}），导入文件上限{_size(max_bytes)}，"
                            "请分成几个文件导入")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RuleViolation(_INVALID + "这是旧版Excel（.xls）或加密文件，请在Excel中另存为.xlsx后再上传")
    if not zipfile.is_zipfile(fh):
        raise RuleViolation(_INVALID + "文件格式不正确（可能是CSV或改了扩展名的文件），请使用系统提供的模板")
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as zf:
            members = zf.infolist()
            names = {m.filename.lower() for m in members}
            # Declared sizes are safe to trust: zipfile never inflates past file_size.
            total = sum(m.file_size for m in members)
            big = [m for m in members if m.file_size > _RATIO_MIN_MEMBER]
            big_unc = sum(m.file_size for m in big)
            big_comp = sum(m.compress_size for m in big)
            if total > max_uncompressed:
                raise RuleViolation(_INVALID + f"解压后内容过大（{total // 2**20} MB，"
                                    f"上限{max_uncompressed // 2**20} MB），拒绝处理")
            packed = sum(m.compress_size for m in members)
            if (big and big_unc > max_ratio * max(big_comp, 1)) or (
                    total > _RATIO_MIN_MEMBER and total > max_ratio * max(packed, 1)):
                raise RuleViolation(_INVALID + "压缩比异常，疑似压缩炸弹，拒绝处理")
            if any(n.endswith("vbaproject.bin") for n in names):
                raise RuleViolation(_INVALID + "文件含有宏，不予接受，请另存为不含宏的.xlsx文件后再上传")
            if "[content_types].xml" not in names or "xl/workbook.xml" not in names:
                raise RuleViolation(_INVALID + "压缩包中没有Excel工作簿")
            types = zf.getinfo("[Content_Types].xml")
            if types.file_size > 1024 * 1024:
                raise RuleViolation(_INVALID + "文件结构异常")
            if b"macroenabled" in zf.read(types).lower():
                raise RuleViolation(_INVALID + "文件含有宏，不予接受，请另存为不含宏的.xlsx文件后再上传")
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, NotImplementedError) as exc:
        raise RuleViolation(_INVALID + "压缩结构损坏或已加密") from exc
    finally:
        fh.seek(0)


def _open_checked(source: Source, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
                  max_ratio: float = DEFAULT_MAX_RATIO,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[IO[bytes], bool]:
    """``_open_source`` followed by ``_check_zip``; closes what it opened on refusal."""
    fh, owned = _open_source(source, max_bytes)
    try:
        _check_zip(fh, max_uncompressed, max_ratio, max_bytes)
    except BaseException:
        if owned:
            fh.close()
        raise
    return fh, owned


def open_workbook_checked(
    source: Source,
    *,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
    max_ratio: float = DEFAULT_MAX_RATIO,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Workbook:
    """Open an uploaded workbook read-only (values, not formulas) after safety checks.

    Raises ``RuleViolation`` ("文件不是有效的Excel（.xlsx）文件：…") for empty files,
    .xls/CSV/other non-xlsx content, more than ``max_bytes`` bytes, more than
    ``max_uncompressed`` bytes unpacked, a compression ratio above ``max_ratio`` (members
    > 1 MB, and all members together), or macros. The caller must ``close()`` the
    workbook; that also closes a file opened here.
    """
    fh, owned = _open_checked(source, max_uncompressed, max_ratio, max_bytes)
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises anything from KeyError to XML errors
        if owned:
            fh.close()
        raise RuleViolation(_INVALID + "无法解析工作簿内容") from exc
    if owned:
        close = wb.close

        def close_all() -> None:
            close()
            fh.close()

        wb.close = close_all  # type: ignore[method-assign]
    return wb


# ---------------------------------------------------------------- reading

# Hints clerks put in brackets ("联系电话（手机）", "重病情况 （F7）"), spaces and required marks.
_HEADER_NOISE_RE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]|[\s\u00a0\u200b\u3000*＊]")


def _norm_header(value: Any) -> str:
    """Issue #13 item 6: a header as the form means it, whatever brackets and spaces it has."""
    return _HEADER_NOISE_RE.sub("", str(value)) if value is not None else ""


#: Columns an export adds that the import reads: the record's version (stale-file check)
#: and its management state (refused for new people, see ``exchange``).
META_COLUMNS: dict[str, str] = {"version": "记录版本", "management_state": "管理状态"}
#: The error report's own columns around a failed row (``write_error_report``): an import
#: of the corrected report skips them without listing them as ignored.
REPORT_HEADERS = ("原行号", "错误原因")

_BY_HEADER: dict[str, Column] = {}
for _c in COLUMNS:
    _BY_HEADER[_norm_header(_c.header)] = _c
    _BY_HEADER.setdefault(_norm_header(_c.field.label), _c)  # the paper form's label, e.g. 所在社区
    _BY_HEADER.setdefault(_c.name, _c)  # API names are accepted too
_META_BY_HEADER = {_norm_header(h): Column(name, h, None) for name, h in META_COLUMNS.items()}
_CHOICE_CODES: dict[str, dict[str, str]] = {
    f.name: {**{c.lower(): c for c in f.choices}, **{label: c for c, label in f.choices.items()}}
    for f in FORM_FIELDS if f.choices
}


def _excel_number(value: float) -> str:
    """A number as Excel shows it in the formula bar: 15 significant digits, the rest zeros
    (issue #13 item 13: not the binary float's digits "…139968")."""
    return format(Decimal(f"{value:.{_EXACT_DIGITS - 1}e}").normalize(), "f")


def _to_text(col: Column, value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOL_LABELS[value]
    if isinstance(value, (int, float)):
        # Item 8: an ID number is 18 characters, more than a number cell keeps exactly; an
        # 18-digit int written by a program is refused like the rounded one Excel keeps.
        if abs(value) >= 10**_EXACT_DIGITS or (col.name == "id_card_no" and value):
            raise ValueError(f"{col.header}：数字{_excel_number(value)}超过15位，Excel已丢失末尾数字，"
                             "请将该列设为文本格式后重新填写")
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _to_date(col: Column, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _to_text(col, value) if not isinstance(value, str) else value
    parts = ((text[:4], text[4:6], text[6:]) if re.fullmatch(r"\d{8}", text)
             else m.groups() if (m := _DATE_RE.fullmatch(text)) else None)
    if parts is not None:
        try:
            return dt.date(*map(int, parts))
        except ValueError:
            raise ValueError(f"{col.header}：日期“{text}”不存在（没有这一月或这一天），请核对"
                             ) from None
    raise ValueError(f"{col.header}：日期“{text}”无法识别，应为yyyy-mm-dd格式，如2024-01-05")


def _to_bool(col: Column, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    key = _to_text(col, value).lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"{col.header}：应填“是”或“否”，不能为“{value}”")


def _to_choice(col: Column, value: Any) -> str:
    codes = _CHOICE_CODES[col.name]
    if type(value) is str and (code := codes.get(value)) is not None:
        return code  # the usual case: a label from the drop-down
    text = re.sub(r"\s+", "", _to_text(col, value))
    code = codes.get(text) or codes.get(text.lower())
    if code is None:
        allowed = "、".join(col.field.choices.values())
        raise ValueError(f"{col.header}：无法识别“{text}”，应为{allowed}之一")
    return code


def _convert(col: Column, value: Any) -> Any:
    """One cell to its field value; raises ValueError with a Chinese message."""
    kind = col.field.kind
    if kind == "date":
        return _to_date(col, value)
    if kind == "bool":
        return _to_bool(col, value)
    if kind == "choice" and col.field.choices:
        return _to_choice(col, value)
    return _to_text(col, value)


def _clean(value: Any) -> Any:
    """A cell as read: text stripped and un-neutralised, empty text → None."""
    if isinstance(value, str):
        return restore(value.strip()).strip() or None
    return value


class _Header(NamedTuple):
    row_no: int
    columns: dict[int, Column]  # form columns and ``META_COLUMNS`` by 0-based index
    ignored: dict[int, str]  # header cells the import does not read, as written
    problem: RuleViolation | None  # a duplicate or a missing required column


def _find_header(rows: Iterator[tuple[int, dict[int, Any]]]) -> _Header | None:
    """The first row naming at least two form columns; earlier rows (titles) are skipped.
    None when the first ``_HEADER_SCAN_ROWS`` rows have no such row."""
    for row_no, cells in rows:
        if row_no > _HEADER_SCAN_ROWS:
            break
        found: dict[int, Column] = {}
        ignored: dict[int, str] = {}
        for i, v in sorted(cells.items()):
            h = _norm_header(v)
            col = _BY_HEADER.get(h) or _META_BY_HEADER.get(h)
            if h in REPORT_HEADERS:
                continue
            if col is not None:
                found[i] = col
            elif h:
                ignored[i] = str(v).strip()
        if sum(1 for c in found.values() if c.field) < 2:
            continue
        problem = None
        seen: dict[str, int] = {}
        for i, col in found.items():
            if col.name in seen:
                problem = RuleViolation(f"表头中“{col.header}”列重复出现", field=col.name)
            seen[col.name] = i
        missing = [c.header for c in COLUMNS if c.field.required and c.name not in seen]
        if missing and problem is None:
            problem = RuleViolation(f"缺少必填列：{'、'.join(missing)}", rule="A31")
        return _Header(row_no, found, ignored, problem)
    return None


class _Xlsx:
    """The parts of a (checked) xlsx that reading cell values needs, streamed with expat.

    Measured reading 100,000 rows into import dicts, on 2 cores at load average
    8–12 (CPU-time rates; wall time was 3–4× lower there):

    ==========================================  ===============  ================
    reader                                      rows/s (CPU)     peak memory
    ==========================================  ===============  ================
    openpyxl read-only (before)                 1,400            ~100 B a row
    this reader                                 10,100 / 14,600  flat (~1 MB)
    python-calamine 0.9 (Rust)                  24,000           +260 MB
    python-calamine-plus 0.2 (Rust) streaming   22,000 / 43,000  flat
    ==========================================  ===============  ================

    (a / b: the 33-column benchmark file / a 29-column import file.)

    python-calamine loads the whole sheet into a dense grid first: memory grows
    with the rows, and a 2 KB upload with cells at A1 and XFD1048576 makes it ask
    for 550 GB and abort the whole process (calamine issue #693), which no
    ``try`` can catch: not acceptable for uploads. python-calamine-plus streams
    and is safe there, but is a young one-person fork. This reader holds one row
    at a time (as {column: value}, so far-away cells cost nothing), refuses DTDs
    and reads only what an import uses: values, shared strings, date formats,
    the 1904 flag. Values are as openpyxl gives them, plus Excel's _xHHHH_
    escapes decoded.
    """

    def __init__(self, fh: IO[bytes]):
        self.zip = zipfile.ZipFile(fh)
        self.names = {n.lower(): n for n in self.zip.namelist()}
        book_path = "xl/workbook.xml"
        for rel in self._rels("_rels/.rels"):
            if rel[1].endswith("/officeDocument"):
                book_path = rel[2].lstrip("/")
        book = _parse_small(self._read(book_path))
        self.epoch = dt.datetime(1904, 1, 1) if any(
            e.tag.endswith("workbookPr") and e.get("date1904") in ("1", "true")
            for e in book.iter()) else None
        base = posixpath.dirname(book_path)
        rels = {rid: (kind, posixpath.normpath(posixpath.join(base, target))
                      if not target.startswith("/") else target.lstrip("/"))
                for rid, kind, target in self._rels(f"{base}/_rels/{posixpath.basename(book_path)}.rels")}
        self.sheets: list[tuple[str, str, bool]] = []  # (name, part, visible), in order
        self.dimensions: dict[str, str] = {}  # part → the <dimension ref> it declares
        for e in book.iter():
            if e.tag.endswith("}sheet"):
                rid = next((v for k, v in e.attrib.items() if k.endswith("}id")), None)
                kind, part = rels.get(rid, ("", ""))
                if kind.endswith("/worksheet"):
                    self.sheets.append((e.get("name", ""), part,
                                        e.get("state", "visible") == "visible"))
        by_kind = {kind.rsplit("/", 1)[-1]: part for kind, part in rels.values()}
        self.strings = self._shared_strings(by_kind.get("sharedStrings"))
        self.date_styles = self._date_styles(by_kind.get("styles"))

    def close(self) -> None:
        self.zip.close()

    def _read(self, part: str) -> bytes:
        name = self.names.get(part.lower())
        if name is None:
            raise KeyError(part)
        return self.zip.read(name)

    def _rels(self, part: str) -> list[tuple[str, str, str]]:
        if part.lower() not in self.names:
            return []
        return [(e.get("Id", ""), e.get("Type", ""), e.get("Target", ""))
                for e in _parse_small(self._read(part)).iter() if e.tag.endswith("Relationship")]

    def _shared_strings(self, part: str | None) -> list[str]:
        if not part or part.lower() not in self.names:
            return []
        strings: list[str] = []
        texts: list[str] = []
        state = {"grab": False, "skip": 0}

        def start(name: str, attrs: Any) -> None:
            local = name.rpartition(" ")[2]
            if local == "t" and not state["skip"]:
                state["grab"] = True
            elif local == "rPh":  # phonetic runs are not part of the text
                state["skip"] += 1
            elif local == "si":
                texts.clear()

        def end(name: str) -> None:
            local = name.rpartition(" ")[2]
            if local == "t":
                state["grab"] = False
            elif local == "rPh":
                state["skip"] -= 1
            elif local == "si":
                strings.append(_unescape_excel("".join(texts)))

        def chars(data: str) -> None:
            if state["grab"]:
                texts.append(data)

        for _ in _feed(self.zip.open(self.names[part.lower()]), _expat(start, end, chars)):
            pass
        return strings

    def _date_styles(self, part: str | None) -> frozenset[int]:
        if not part or part.lower() not in self.names:
            return frozenset()
        root = _parse_small(self._read(part))
        formats = {int(e.get("numFmtId", -1)): e.get("formatCode", "")
                   for e in root.iter() if e.tag.endswith("}numFmt")}
        dates = set()
        xfs = next((e for e in root if e.tag.endswith("}cellXfs")), None)
        for i, xf in enumerate(xfs if xfs is not None else ()):
            fmt_id = int(xf.get("numFmtId", 0))
            if (is_date_format(formats[fmt_id]) if fmt_id in formats
                    else fmt_id in _BUILTIN_DATE_FORMATS):
                dates.add(i)
        return frozenset(dates)

    def rows(self, part: str) -> Iterator[tuple[int, dict[int, Any]]]:
        """(row number, {0-based column: value}) for the rows with cells, streaming."""
        strings, dates, epoch = self.strings, self.date_styles, self.epoch
        done: list[tuple[int, dict[int, Any]]] = []
        cells: dict[int, Any] = {}
        text: list[str] = []
        kinds = _TAG_KINDS.copy()
        columns = _COLUMNS.copy()
        row_no = col = phonetic = 0
        kind_attr = style = None
        grab = False

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal row_no, col, kind_attr, style, grab, phonetic, cells
            kind = kinds.get(name)
            if kind is None:
                kind = kinds[name] = _TAG_KINDS.get(name.rpartition(":")[2], 0)
            if kind == _C:
                ref = attrs.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    col = columns.get(letters)
                    if col is None:
                        col = columns[letters] = column_index_from_string(letters) - 1
                kind_attr = attrs.get("t")
                style = attrs.get("s")
                text.clear()
            elif kind == _V or (kind == _T and not phonetic):
                grab = True
            elif kind == _ROW:
                ref = attrs.get("r")
                row_no = int(ref) if ref else row_no + 1
                col = 0
                cells = {}
            elif kind == _RPH:
                phonetic += 1
            elif kind == _DIM:
                self.dimensions[part] = attrs.get("ref", "")

        def end(name: str) -> None:
            nonlocal col, grab, phonetic
            kind = kinds.get(name)
            if kind == _C:
                if text:
                    if kind_attr == "s":  # the usual cases first, without a call
                        cells[col] = strings[int(text[0] if len(text) == 1 else "".join(text))]
                    elif kind_attr == "inlineStr":
                        value = text[0] if len(text) == 1 else "".join(text)
                        cells[col] = _unescape_excel(value) if "_x" in value else value
                    else:
                        value = _cell_value("".join(text), kind_attr, style, strings, dates,
                                            epoch)
                        if value is not None:
                            cells[col] = value
                col += 1
            elif kind in (_V, _T):
                grab = False
            elif kind == _ROW:
                if cells:
                    done.append((row_no, cells))
            elif kind == _RPH:
                phonetic -= 1

        def chars(data: str) -> None:
            if grab:
                text.append(data)

        # Without namespace processing (a little faster): tags by local name, as calamine does.
        parser = _expat(start, end, chars, namespaces=False)
        try:
            for _ in _feed(self.zip.open(self.names[part.lower()]), parser):
                yield from done
                done.clear()
        except (expat.ExpatError, ValueError, IndexError, KeyError, OSError,
                zipfile.BadZipFile, EOFError) as exc:
            raise RuleViolation(_INVALID + "无法解析工作表内容") from exc


_C, _V, _T, _ROW, _RPH, _DIM = 1, 2, 3, 4, 5, 6
_TAG_KINDS = {"c": _C, "v": _V, "t": _T, "row": _ROW, "rPh": _RPH, "dimension": _DIM}
# Built-in number formats that show dates or times (incl. the CJK ones Excel uses in China).
_BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)])
_COLUMNS = {get_column_letter(i): i - 1 for i in range(1, 703)}  # A…ZZ; others on demand
_EXCEL_UNESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _cell_value(text: str, kind: str | None, style: str | None, strings: list[str],
                dates: frozenset[int], epoch: dt.datetime | None) -> Any:
    """A cell's value as openpyxl (read-only, values) gives it; "" and None both mean empty."""
    if kind is None or kind == "n":
        if not text:
            return None
        number: int | float = float(text) if ("." in text or "E" in text or "e" in text) \
            else int(text)
        if style is not None and int(style) in dates:
            return _from_serial(number, epoch)
        return number
    if kind == "s":
        return strings[int(text)]
    if kind == "b":
        return text.strip() in ("1", "true")
    if kind == "d":
        try:
            return dt.datetime.fromisoformat(text.strip().rstrip("Z"))
        except ValueError:
            return text
    if kind == "e":
        return CellError(text)
    # inlineStr, str (a formula's text result)
    return _unescape_excel(text) if "_x" in text else text


class CellError(str):
    """An error value (#N/A, #REF!, ...) an Excel cell holds instead of a value."""


#: Excel's error values: text equal to one of them is a failed formula pasted as values.
ERROR_CODES = frozenset(["#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!",
                         "#SPILL!", "#CALC!", "#GETTING_DATA"])
# Item 9: characters that show as nothing (or as a space) and make two names differ.
_INVISIBLE_RE = re.compile("[\u00a0\u00ad\u200b-\u200f\u2060\ufeff]")


def _unescape_excel(text: str) -> str:
    """Excel's _xHHHH_ escapes (e.g. _x000D_ for CR, _x005F_ for "_") back to characters."""
    return _EXCEL_UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _from_serial(serial: float, epoch: dt.datetime | None) -> Any:
    """Excel serial to date (whole days) or datetime; out-of-range numbers stay numbers."""
    if not 0 < serial < 2958466:
        return serial
    if epoch is None:  # 1900 system, with Excel's phantom 1900-02-29 (serial 60)
        epoch = dt.datetime(1899, 12, 31) if serial < 60 else dt.datetime(1899, 12, 30)
    days = int(serial)
    if days == serial:
        return (epoch + dt.timedelta(days=days)).date()
    return epoch + dt.timedelta(days=days, milliseconds=round((serial - days) * 86_400_000))


def _no_dtd(*args: Any) -> None:
    raise ValueError("DTDs are not allowed in xlsx parts")


def _expat(start: Any, end: Any, chars: Any, namespaces: bool = True) -> Any:
    p = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()
    p.buffer_text = True
    p.buffer_size = 1 << 16
    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.StartDoctypeDeclHandler = _no_dtd
    p.EntityDeclHandler = _no_dtd
    return p


def _feed(fh: IO[bytes], parser: Any) -> Iterator[None]:
    """Feed a zip member to expat in 64 KB chunks, pausing after each."""
    with fh:
        while chunk := fh.read(1 << 16):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
        yield


def _parse_small(data: bytes) -> Any:
    """A small package part (workbook, rels, styles) as an ElementTree, DTDs refused."""
    if len(data) > 16 * 1024 * 1024:
        raise ValueError("package part too large")
    builder = ElementTree.TreeBuilder()

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(k): v for k, v in attrs.items()})

    def end(name: str) -> None:
        builder.end(_clark(name))

    p = _expat(start, end, builder.data)
    p.Parse(data, True)
    return builder.close()


def _clark(name: str) -> str:
    uri, _, local = name.rpartition(" ")
    return f"{{{uri}}}{local}" if uri else local


class SheetRows(Iterator[tuple[int, dict[str, Any]]]):
    """The data rows of the sheet ``read_rows`` chose, and what the import tells the user
    about it: the sheet's name, the columns it ignored, the rows its dimension declares."""

    def __init__(self, records: Iterator[tuple[int, dict[str, Any]]], sheet: str,
                 ignored: list[str], size_hint: int | None):
        self._records, self.sheet, self.ignored, self.size_hint = (records, sheet, ignored,
                                                                    size_hint)

    def __next__(self) -> tuple[int, dict[str, Any]]:
        return next(self._records)

    def close(self) -> None:
        self._records.close()

    def notes(self) -> dict[str, str]:
        """Item 6: what was read and what was not, for the top of the result and report."""
        notes = {"读取的工作表": self.sheet}
        if self.ignored:
            notes["未导入的列"] = "、".join(self.ignored) + "（表头与登记表不符或为只读列，这些列的内容未导入）"
        return notes


def _choose_sheet(book: _Xlsx) -> tuple[str, str, Iterator, _Header]:
    """Issue #13 item 5: the visible sheet whose header row matches the form. Hidden sheets
    (old years, templates, code lists) are never read; none or several matching sheets
    refuse the file, naming the sheets."""
    if not book.sheets:
        raise RuleViolation(_INVALID + "工作簿中没有工作表")
    found = []
    for name, part, visible in book.sheets:
        if not visible:
            continue
        rows = book.rows(part)
        header = _find_header(rows)
        if header is None:
            rows.close()
        else:
            found.append((name, part, rows, header))
    sound = [f for f in found if f[3].problem is None] or found
    if len(sound) > 1:
        sound = [f for f in sound if f[0] == DATA_SHEET] or sound
    for other in found:
        if len(sound) > 1 or other is not sound[0]:
            other[2].close()
    hidden = [name for name, _, visible in book.sheets if not visible]
    hidden_note = f"；隐藏的工作表（{_names(hidden)}）不读取，如需导入请取消隐藏" if hidden else ""
    if not sound:
        shown = [name for name, _, visible in book.sheets if visible]
        raise RuleViolation(_INVALID + f"在可见的工作表（{_names(shown)}）前{_HEADER_SCAN_ROWS}行中"
                            "未找到表头行（应有“姓名”“身份证号”等列名），请使用系统提供的模板"
                            + hidden_note)
    if len(sound) > 1:
        raise RuleViolation(f"有多个工作表的表头与登记表一致（{_names(f[0] for f in sound)}），"
                            "无法确定导入哪一个；请只保留要导入的工作表，或将其命名为"
                            f"“{DATA_SHEET}”" + hidden_note)
    name, part, rows, header = sound[0]
    if header.problem is not None:
        rows.close()
        raise RuleViolation(f"工作表“{name}”：{header.problem.message}", field=header.problem.field,
                            rule=header.problem.rule)
    return name, part, rows, header


def _names(names: Iterable[str]) -> str:
    return "、".join(f"“{n}”" for n in names)


def _size_hint(ref: str | None, header_row: int) -> int | None:
    """Data rows a sheet's ``<dimension ref="A1:AG501">`` declares, if it declares any."""
    m = re.fullmatch(r"[A-Z]*\d*:?[A-Z]*(\d+)", ref or "")
    return max(int(m.group(1)) - header_row, 0) if m else None


def read_rows(source: Source, **limits: Any) -> SheetRows:
    """Stream data rows of an uploaded registry workbook as (Excel row number, raw dict) (A31).

    The file, the choice of sheet (``_choose_sheet``) and its header are checked when this
    is called (``RuleViolation`` before any row is produced); rows are then read lazily with
    flat memory. Each dict has one key per recognised column (labels mapped back to codes,
    是/否 to bool, dates to ``date``, text kept as ``str`` with leading zeros; empty cells →
    None), ``"_version"`` and ``"_management_state"`` when an export's ``META_COLUMNS`` are present,
    ``"_errors"``: the cells that could not be converted, as ``RuleViolation(field=...)``
    (such fields are None), and ``"_display"``: those cells' values as Excel shows them.
    Fully empty rows are skipped. ``limits`` go to the same checks as
    ``open_workbook_checked``. A sheet whose XML turns out broken part-way raises
    ``RuleViolation`` from the iteration.
    """
    fh, owned = _open_checked(source, **limits)
    book = None
    try:
        try:
            book = _Xlsx(fh)
            sheet, part, rows, header = _choose_sheet(book)
        except RuleViolation:
            raise
        except Exception as exc:  # zip and XML errors, missing parts, bad numbers, ...
            raise RuleViolation(_INVALID + "无法解析工作簿内容") from exc
    except BaseException:
        if book is not None:
            book.close()
        if owned:
            fh.close()
        raise

    def close() -> None:
        book.close()
        if owned:
            fh.close()

    return SheetRows(_records(close, rows, header), sheet, list(header.ignored.values()),
                     _size_hint(book.dimensions.get(part), header.row_no))


def _error_value(header: str, ref: str, value: str) -> RuleViolation:
    return RuleViolation(f"{header}（单元格{ref}）是Excel错误值“{value}”（公式出错），"
                         "请改正后重新导入")


def _records(close: Any, rows: Iterator[tuple[int, dict[int, Any]]],
             header: _Header) -> Iterator[tuple[int, dict[str, Any]]]:
    plan = [(idx, col.name, col, col.field.kind in ("text", "ref"), get_column_letter(idx + 1))
            for idx, col in header.columns.items() if col.field]
    meta = [(idx, col) for idx, col in header.columns.items() if not col.field]
    unread = [(idx, h, get_column_letter(idx + 1)) for idx, h in header.ignored.items()]
    try:
        for row_no, cells in rows:
            if row_no <= header.row_no:
                continue
            record: dict[str, Any] = {}
            errors: list[RuleViolation] = []
            display: dict[str, str] = {}
            filled = False
            get = cells.get
            for idx, name, col, is_text, letter in plan:
                value = get(idx)
                if value is None:
                    record[name] = None
                    continue
                if value.__class__ is str:
                    value = value.strip()
                    if value[:1] == "'":
                        value = restore(value).strip()
                    if name == "name":
                        value = _INVISIBLE_RE.sub("", value).strip()
                    if not value:
                        record[name] = None
                        continue
                    if value[:1] == "#" and value in ERROR_CODES:
                        value = CellError(value)
                    elif is_text:  # text stays as typed: nothing to convert
                        record[name] = value
                        filled = True
                        continue
                filled = True
                try:
                    if value.__class__ is CellError:
                        raise ValueError(_error_value(col.header, f"{letter}{row_no}", value).message)
                    value = _convert(col, value)
                except ValueError as exc:
                    errors.append(RuleViolation(str(exc), field=col.name))
                    display[name] = (_excel_number(value) if isinstance(value, (int, float))
                                     and not isinstance(value, bool) else str(value))
                    value = None
                record[name] = value
            for idx, col in meta:
                value = _clean(get(idx))
                if value is not None and col.name == "version":
                    try:
                        value = int(value)
                    except ValueError:
                        errors.append(RuleViolation(f"{col.header}：应为导出时的整数，不能为“{value}”",
                                                    field="version"))
                        value = None
                elif value is not None:
                    value = str(value)
                record["_" + col.name] = value
            for idx, text, letter in unread:
                value = get(idx)
                if isinstance(value, str) and value.strip() in ERROR_CODES:
                    errors.append(_error_value(text, f"{letter}{row_no}", value.strip()))
            if not filled and all(_clean(v) is None for v in cells.values()):
                continue
            record["_errors"] = errors
            if display:
                record["_display"] = display
            yield row_no, record
    finally:
        close()


# ---------------------------------------------------------------- writing

class _XlsxStream:
    """A minimal streaming xlsx (SpreadsheetML) writer: the export path of A31/A33.

    Measured on 100,000 rows × 33 columns of Chinese registry data, on 2 cores at
    load average 8–12 (so CPU-time rates; wall time was 3–4× lower there):

    ======================================  =============  ======================
    writer                                  rows/s (CPU)   memory
    ======================================  =============  ======================
    openpyxl write-only (before)            2,200          flat
    XlsxWriter 3.3 ``constant_memory``      4,400–5,100    flat
    pyexcelerate 0.13                       6,100          whole sheet in memory
    rustpy-xlsxwriter 0.8 (Rust)            37,000         flat
    this writer                             33,000         flat (~1 MB)
    ======================================  =============  ======================

    The first four were given cells already rendered; this one's figure includes
    rendering (labels, 是/否, neutralising). XlsxWriter and pyexcelerate are 4×
    short of 20,000 rows/s. rustpy-xlsxwriter is young (one maintainer) and cannot
    write the document properties that carry the A33 watermark, a header row for
    an empty export, or per-column header styles. What an export needs is small:
    inline strings (no workbook-wide string table, so memory is flat in the row
    count), a fixed shared-string table for the choice labels and 是/否, five cell
    styles and a frozen header. A cell is one f-string; escaping is done only for
    the rare values that need it (one regex test decides).

    Sheets go to an unnamed temporary file first, so each zip member's size is
    known and ZIP64 headers, which Excel and other tools may call corrupt, are
    used only past 2 GB of sheet XML (as XlsxWriter does). zlib level 1.
    """

    def __init__(self, target: Source, shared: Iterable[str] = ()):
        self._zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=_ZIP_LEVEL)
        self._sheets: list[tuple[str, bool]] = []
        #: Shared-string index by (neutralised) text: a fixed vocabulary, so memory stays flat.
        self.shared: dict[str, int] = {s: i for i, s in enumerate(dict.fromkeys(shared))}

    def __enter__(self) -> _XlsxStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._zip.close()

    def sheet(self, name: str, rows: Iterable[str], widths: Sequence[float] = (),
              freeze_header: bool = False, hidden: bool = False) -> None:
        """Add a worksheet whose ``<sheetData>`` children are the strings of ``rows``."""
        index = len(self._sheets) + 1
        self._sheets.append((name, hidden))
        selected = ' tabSelected="1"' if index == 1 else ""
        pane = ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>') if freeze_header else ""
        cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                       for i, w in enumerate(widths, 1))
        start = f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_R}">'
        # The used range, filled in once the rows are counted: readers size progress by it.
        dimension = '<dimension ref="A1"/>'.ljust(len('<dimension ref="A1:XFD1048576"/>'))
        head = (start + dimension + f'<sheetViews><sheetView workbookViewId="0"{selected}>{pane}</sheetView></sheetViews>'
                f'<sheetFormatPr defaultRowHeight="15"/>'
                + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>")
        with tempfile.TemporaryFile() as tmp:
            write = tmp.write
            write(head.encode())
            chunk: list[str] = []
            last = ""
            for row in rows:
                last = row
                chunk.append(row)
                if len(chunk) == 256:
                    write("".join(chunk).encode())
                    chunk.clear()
            write(("".join(chunk) + "</sheetData></worksheet>").encode())
            if (m := re.match(r'<row r="(\d+)"', last)) and widths:
                end = tmp.tell()
                tmp.seek(len(start.encode()))
                tmp.write(f'<dimension ref="A1:{get_column_letter(len(widths))}{m.group(1)}"/>'
                          .encode())
                tmp.seek(end)
            self._add_file(f"xl/worksheets/sheet{index}.xml", tmp)

    def _add_file(self, name: str, tmp: IO[bytes]) -> None:
        # The size is known now, so ZIP64 headers only when really needed.
        big = tmp.tell() > zipfile.ZIP64_LIMIT * 0.95
        tmp.seek(0)
        with self._zip.open(name, "w", force_zip64=big) as out:
            while block := tmp.read(1 << 18):
                out.write(block)

    def close(self, subject: str | None = None, description: str | None = None) -> None:
        """Write the package parts around the sheets, and the document properties."""
        z = self._zip
        n = len(self._sheets)
        state = {True: ' state="hidden"', False: ""}
        sheets = "".join(f'<sheet name="{_xml_attr(name)}" sheetId="{i}"{state[hidden]} r:id="rId{i}"/>'
                         for i, (name, hidden) in enumerate(self._sheets, 1))
        z.writestr("xl/workbook.xml", f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_R}">'
                   f'<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews>'
                   f"<sheets>{sheets}</sheets></workbook>")
        rels = "".join(_rel(f"rId{i}", "worksheet", f"worksheets/sheet{i}.xml")
                       for i in range(1, n + 1))
        rels += _rel(f"rId{n + 1}", "styles", "styles.xml")
        rels += _rel(f"rId{n + 2}", "sharedStrings", "sharedStrings.xml")
        z.writestr("xl/_rels/workbook.xml.rels", _rels_xml(rels))
        z.writestr("xl/styles.xml", _STYLES_XML)
        items = "".join(f"<si>{_t(s)}</si>" for s in self.shared)
        z.writestr("xl/sharedStrings.xml", f'{_XML_DECL}<sst xmlns="{_NS_MAIN}" '
                   f'uniqueCount="{len(self.shared)}">{items}</sst>')
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        props = "".join(f"<dc:{k}>{_xml_text(v)}</dc:{k}>"
                        for k, v in (("subject", subject), ("description", description)) if v)
        z.writestr("docProps/core.xml", (
            f'{_XML_DECL}<cp:coreProperties xmlns:cp="{_NS_PKG}/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dc:creator>retiree-admin</dc:creator>{props}'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>'
            '</cp:coreProperties>'))
        z.writestr("docProps/app.xml", f'{_XML_DECL}<Properties xmlns="{_NS_OFFICE}/'
                   'extended-properties"><Application>Microsoft Excel</Application></Properties>')
        z.writestr("_rels/.rels", _rels_xml(
            _rel("rId1", "officeDocument", "xl/workbook.xml")
            + _rel("rId2", "metadata/core-properties", "docProps/core.xml",
                   f"{_NS_PKG}/relationships")
            + _rel("rId3", "extended-properties", "docProps/app.xml")))
        sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        overrides = [("/xl/workbook.xml", f"{sml}.sheet.main+xml"),
                     *((f"/xl/worksheets/sheet{i}.xml", f"{sml}.worksheet+xml")
                       for i in range(1, n + 1)),
                     ("/xl/styles.xml", f"{sml}.styles+xml"),
                     ("/xl/sharedStrings.xml", f"{sml}.sharedStrings+xml"),
                     ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
                     ("/docProps/app.xml",
                      "application/vnd.openxmlformats-officedocument.extended-properties+xml")]
        z.writestr("[Content_Types].xml", (
            f'{_XML_DECL}<Types xmlns="{_NS_PKG}/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides)
            + "</Types>"))
        z.close()


_ZIP_LEVEL = 1  # 2.6× less CPU than zlib's default 6 (0.8 s vs 2.2 s per 100k rows), file 35% larger
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006"
_NS_R = f"{_NS_OFFICE}/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006"

# Cell styles: indexes into cellXfs below.
_S_DATE, _S_TEXT, _S_HEADER, _S_REQUIRED, _S_BOLD = 1, 2, 3, 4, 5
_STYLES_XML = (
    f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><color rgb="FFC00000"/><name val="Calibri"/><family val="2"/></font>'
    '</fonts><fills count="4"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFD9E1F2"/><bgColor indexed="64"/>'
    '</patternFill></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFCE4D6"/><bgColor indexed="64"/>'
    '</patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" '
    'applyAlignment="1"><alignment horizontal="center" vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="2" fillId="3" borderId="0" xfId="0" applyFont="1" applyFill="1" '
    'applyAlignment="1"><alignment horizontal="center" vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def _rel(rid: str, kind: str, target: str, ns: str = _NS_R) -> str:
    return f'<Relationship Id="{rid}" Type="{ns}/{kind}" Target="{target}"/>'


def _rels_xml(rels: str) -> str:
    return f'{_XML_DECL}<Relationships xmlns="{_NS_PKG}/relationships">{rels}</Relationships>'


def _xml_text(text: str) -> str:
    """Escape character data; \\r as a reference, or XML parsers turn it into \\n."""
    text = _XML_ILLEGAL_RE.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _xml_attr(text: str) -> str:
    return _xml_text(text).replace('"', "&quot;")


_XML_SPACE = " \t\n\r"
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Excel reads _xHHHH_ in text as an escaped character; its own escape for "_" is _x005F_.
_EXCEL_ESCAPE_RE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
# Text that needs none of neutralising (core.xlsx.FORMULA_START), escaping or xml:space:
# the usual case, one C-level test.
_PLAIN_RE = re.compile("[^\x00-\x1f&<>_'\\s=+\\-@＝＋－＠\ud800-\udfff\ufffe\uffff]"
                       "[^\x00-\x1f&<>_\ud800-\udfff\ufffe\uffff]*(?<!\\s)")


def _t(text: str) -> str:
    """A ``<t>`` element for already-neutralised text."""
    if _PLAIN_RE.fullmatch(text):
        return f"<t>{text}</t>"
    text = _EXCEL_ESCAPE_RE.sub("_x005F_", _xml_text(text))
    if text[:1] in _XML_SPACE or text[-1:] in _XML_SPACE:
        return f'<t xml:space="preserve">{text}</t>'
    return f"<t>{text}</t>"


def _text_tail(text: str, style: str) -> str:
    """Everything after ``<c r="A1"`` of a cell holding raw (not yet neutralised) text."""
    if _PLAIN_RE.fullmatch(text):
        return f'{style} t="inlineStr"><is><t>{text}</t></is></c>'
    return f'{style} t="inlineStr"><is>{_t(neutralise(text))}</is></c>'


def _serial(value: dt.date) -> str | None:
    """Excel's serial number of a date or datetime (1900 date system); None before 1900."""
    if isinstance(value, dt.datetime):
        delta = value - dt.datetime(1899, 12, 30)
        days, fraction = delta.days, (delta.seconds + delta.microseconds / 1e6) / 86400
    else:
        days, fraction = value.toordinal() - 693594, 0.0  # date(1899, 12, 30).toordinal()
    if days < 61:  # Excel counts a phantom 1900-02-29, so earlier serials are one lower
        if days < 2:
            return None
        days -= 1
    return repr(days + fraction) if fraction else str(days)


class _CellWriter:
    """Cell XML for rendered values (see ``_render``), with the shared vocabulary."""

    def __init__(self, shared: Mapping[str, int]):
        self.shared = shared

    def tail(self, value: Any, style: str = "") -> str | None:
        """Everything after ``<c r="A1"`` for a value ``_render`` returned; None for no cell."""
        if value is None:
            return None
        if isinstance(value, bool):
            value = BOOL_LABELS[value]
        if isinstance(value, str):
            if (idx := self.shared.get(value)) is not None:
                return f'{style} t="s"><v>{idx}</v></c>'
            return f'{style} t="inlineStr"><is>{_t(value)}</is></c>'
        if isinstance(value, dt.date):
            serial = _serial(value)
            if serial is None:  # before 1900: Excel has no such date, keep it as text
                return self.tail(value.isoformat(), style)
            return f' s="{_S_DATE}"><v>{serial}</v></c>'
        if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
            return f"{style}><v>{value!r}</v></c>"
        return self.tail(neutralise(str(value)), style)


def _encoder(col: Column, choices: Mapping[str, str] | None,
             cells: _CellWriter) -> Any:
    """``(ref, value) -> cell XML`` for one column: fast paths for the common value types,
    everything else through ``_render`` so the output is the same either way."""
    f = col.field
    style = f' s="{_S_TEXT}"' if _is_text(f) else ""
    labels = choices if choices is not None else (f.choices if f else None)

    def slow(ref: str, value: Any) -> str:
        tail = cells.tail(_render(col, value, choices), style)
        return f'<c r="{ref}"{tail}' if tail else ""

    if labels:
        fixed = {code: cells.tail(neutralise(label), style) for code, label in labels.items()}

        def choice(ref: str, value: Any) -> str:
            tail = fixed.get(value) if value.__class__ is str else None
            return f'<c r="{ref}"{tail}' if tail else slow(ref, value)
        return choice
    yes, no = cells.tail(BOOL_LABELS[True]), cells.tail(BOOL_LABELS[False])
    if f is not None and f.kind == "bool":
        def boolean(ref: str, value: Any) -> str:
            if value is True:
                return f'<c r="{ref}"{yes}'
            if value is False:
                return f'<c r="{ref}"{no}'
            return slow(ref, value)
        return boolean
    if f is not None and f.kind == "date":
        def date(ref: str, value: Any) -> str:
            if value.__class__ is dt.date and value.year >= 1901:
                return f'<c r="{ref}" s="{_S_DATE}"><v>{value.toordinal() - 693594}</v></c>'
            return slow(ref, value)
        return date


    def text(ref: str, value: Any) -> str:
        if value.__class__ is str:
            return f'<c r="{ref}"{_text_tail(value, style)}'
        if value is True or value is False:
            return f'<c r="{ref}"{yes if value else no}'
        return slow(ref, value)
    return text


@functools.cache
def _letters(n: int) -> list[str]:
    return [get_column_letter(i) for i in range(1, n + 1)]


def _header_row(titles: Sequence[str], styles: Sequence[int], row: int = 1) -> str:
    cells = "".join(f'<c r="{letter}{row}" s="{s}" t="inlineStr"><is>{_t(neutralise(t))}</is></c>'
                    for letter, t, s in zip(_letters(len(titles)), titles, styles, strict=True))
    return f'<row r="{row}">{cells}</row>'


def _plain_rows(rows: Iterable[Sequence[Any]], cells: _CellWriter, first: int = 1,
                styles: Sequence[str] = ()) -> Iterator[str]:
    """Rows of rendered values (neutralised text, numbers, dates)."""
    for n, row in enumerate(rows, first):
        letters = _letters(len(row))
        rn = str(n)
        parts = [f'<row r="{rn}">']
        for i, value in enumerate(row):
            tail = cells.tail(value, styles[i] if i < len(styles) else "")
            if tail:
                parts.append(f'<c r="{letters[i]}{rn}"{tail}')
        parts.append("</row>")
        yield "".join(parts)


ExtraColumn = tuple[str, str] | tuple[str, str, Mapping[str, str]]


def write_export(
    target: Source,
    rows: Iterable[Mapping[str, Any]],
    extra_columns: Sequence[ExtraColumn] = (),
    watermark: str | None = None,
    withheld: Sequence[str] = (),
) -> int:
    """Stream registry rows to an xlsx that ``read_rows`` imports back unchanged; returns the count.

    Same headers as the template, codes as Chinese labels, bools as 是/否, dates
    as real dates (yyyy-mm-dd), text columns as text (F4 leading zeros). Strings
    that a spreadsheet would run as a formula are prefixed with ' (restored on
    import). ``extra_columns`` are read-only columns appended after the form
    (``(key, header)`` or ``(key, header, {code: label})``); imports ignore them.
    ``watermark`` (who received the data, A33) goes on a sheet of its own and
    into the workbook properties. Memory is flat in the number of rows.

    ``withheld``: form fields the export may not carry (health fields without the right to
    them). Issue #13 item 1: they are left out of the file, not written blank, so that
    importing it back cannot clear them; the data-release sheet names them.
    """
    extras = [Column(e[0], e[1], None) for e in extra_columns]
    clash = {c.header for c in extras} & {c.header for c in COLUMNS}
    if clash:
        raise ValueError(f"extra column headers clash with form headers: {sorted(clash)}")
    extra_choices = {e[0]: e[2] for e in extra_columns if len(e) > 2}
    columns = [*(c for c in COLUMNS if c.name not in withheld), *extras]
    vocabulary = list(BOOL_LABELS.values())
    for col in columns:
        labels = _list_choices(col.field) if col.field else extra_choices.get(col.name, {}).values()
        vocabulary += [neutralise(label) for label in labels or ()]
    count = 0

    def data(cells: _CellWriter) -> Iterator[str]:
        nonlocal count
        yield _header_row([c.title for c in columns],
                          [_S_REQUIRED if c.field and c.field.required else _S_HEADER
                           for c in columns])
        plan = [(col.name, letter, _encoder(col, extra_choices.get(col.name), cells))
                for col, letter in zip(columns, _letters(len(columns)), strict=True)]
        for n, row in enumerate(rows, 2):
            if n > _EXCEL_MAX_ROW:
                raise RuleViolation(f"导出超过Excel单表最大行数（{_EXCEL_MAX_ROW - 1}行），请缩小导出范围")
            rn = str(n)
            get = row.get
            parts = [f'<row r="{rn}">']
            for name, letter, encode in plan:
                value = get(name)
                if value is not None:
                    parts.append(encode(letter + rn, value))
            parts.append("</row>")
            yield "".join(parts)
            count = n - 1

    with _XlsxStream(target, vocabulary) as book:
        cells = _CellWriter(book.shared)
        book.sheet(DATA_SHEET, data(cells), [_width(c) for c in columns], freeze_header=True)
        if watermark or withheld:
            note = ["本数据仅限下列用途使用，未经市、区退管中心批准不得提供给其他单位或个人。",
                    neutralise(watermark or "")]
            if withheld:
                note.append("本文件未包含以下列（未获提供），导入本文件不会改变这些内容："
                            + "、".join(HEADERS[name] for name in withheld))
            book.sheet(WATERMARK_SHEET, _plain_rows([[line] for line in note], cells), [100])
        book.close(subject=watermark, description=watermark)
    return count


ErrorReason = str | RuleViolation


def write_error_report(
    target: Source,
    errors: Iterable[tuple[int, Mapping[str, Any], Sequence[ErrorReason]]],
    summary: Mapping[str, int] | None = None,
    notes: Mapping[str, str] | None = None,
) -> int:
    """Stream an import error report (A31); returns the number of rows listed.

    One line per rejected input row: 原行号, every column the row had in the file (form
    columns in form order, then an export's 管理状态 and 记录版本), and the reasons joined
    with "；" under 错误原因. Issue #14 item 15: the cells are written as an export writes
    them (labels, 是/否, dates, text), so the clerk corrects the report and imports it
    again; the import skips 原行号 and 错误原因 (``REPORT_HEADERS``). A column the file did
    not carry is not written, so the re-import cannot clear it (issue #13 item 1).
    ``summary`` (e.g. {"总行数": 10, "失败": 2}) goes on a second sheet. Values echo user
    input, so they are neutralised too. ``notes`` (the sheet read, the columns ignored)
    open the second sheet; the columns ignored also head the first, above its table
    (issue #13 item 6).
    """
    errors = list(errors)
    present = {k for _, raw, _ in errors for k in raw}
    columns = [*(c for c in COLUMNS if c.name in present),
               *(Column(name, header, None) for name, header in META_COLUMNS.items()
                 if name in present)]
    titles = [REPORT_HEADERS[0], *(c.title for c in columns), REPORT_HEADERS[1]]
    styles = [_S_BOLD, *(_S_REQUIRED if c.field and c.field.required else _S_HEADER
                         for c in columns), _S_BOLD]
    notes = notes or {}
    ignored = [[neutralise(f"{k}：{v}")] for k, v in notes.items() if k == "未导入的列"]
    top = len(ignored) + 1 if ignored else 0  # the note, then an empty row
    vocabulary = list(BOOL_LABELS.values())
    for col in columns:
        vocabulary += [neutralise(label) for label in
                       ((_list_choices(col.field) if col.field else None) or ())]

    def lines(cells: _CellWriter) -> Iterator[str]:
        plan = [(col.name, letter, _encoder(col, None, cells))
                for col, letter in zip(columns, _letters(len(titles))[1:], strict=False)]
        last = _letters(len(titles))[-1]
        for n, (row_no, raw, reasons) in enumerate(errors, top + 2):
            rn = str(n)
            reason = "；".join(r.message if isinstance(r, RuleViolation) else str(r)
                              for r in reasons)
            parts = [f'<row r="{rn}"><c r="A{rn}"><v>{int(row_no)}</v></c>']
            for name, letter, encode in plan:
                value = raw.get(name)
                if value is not None:
                    parts.append(encode(letter + rn, value))
            parts.append(f'<c r="{last}{rn}"{cells.tail(neutralise(reason))}</row>')
            yield "".join(parts)

    with _XlsxStream(target, vocabulary) as book:
        cells = _CellWriter(book.shared)
        book.sheet("错误明细", itertools.chain(
            _plain_rows(ignored, cells),
            [_header_row(titles, styles, top + 1)], lines(cells)),
            [10, *(_width(c) for c in columns), 60], freeze_header=not top)
        totals = [*([neutralise(f"{k}：{v}"), None] for k, v in notes.items()),
                  *([neutralise(str(k)), v] for k, v in (summary or {}).items())]
        book.sheet("汇总", itertools.chain([_header_row(["项目", "数量"], [_S_BOLD] * 2)],
                                         _plain_rows(totals, cells, 2)), [16, 12])
        book.close()
    return len(errors)
