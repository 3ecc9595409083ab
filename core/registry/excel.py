"""Excel import/export of the registration form (基本信息登记表), A30–A31, F1–F9.

Pure functions over paths/streams and iterables of dicts: no Flask, no database.
Column headers and coded values come from ``fields.FORM_FIELDS`` only, so the
template, the export and the import can never disagree (an export imports back
unchanged).

Untrusted input: ``open_workbook_checked`` refuses non-xlsx files, zip bombs and
macro-enabled workbooks before openpyxl parses anything; ``write_export`` and
``write_error_report`` neutralise formula injection.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, NamedTuple

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from core.errors import RuleViolation
from core.registry.fields import FORM_FIELDS, FormField

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
_REF_HINTS = {
    "employer": "填参保单位编号",
    "custodian_agency": "填就业管理机构编号",
    "community": "填12位社区（村）代码",
}

#: Column headers by field name (without the required-marker).
HEADERS: dict[str, str] = {f.name: REF_HEADERS.get(f.name, f.label) for f in FORM_FIELDS}

REQUIRED_MARK = "*"
BOOL_LABELS = {True: "是", False: "否"}
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
DEFAULT_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DEFAULT_MAX_RATIO = 100.0
_RATIO_MIN_MEMBER = 1024 * 1024
_HEADER_SCAN_ROWS = 20
_EXCEL_MAX_ROW = 1_048_576
_INLINE_LIST_MAX = 255  # Excel's limit for a literal list in a validation formula
_EXACT_DIGITS = 15  # Excel keeps 15 significant digits of a number

_INVALID = "文件不是有效的Excel（.xlsx）文件："
# CSV/DDE injection triggers (OWASP), including the full-width forms Excel also accepts.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
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

def _neutralise(text: str) -> str:
    """Prefix a formula-like string with ' so spreadsheets show it as text.

    Strings already starting with ' before a trigger get one more, so that
    ``_restore`` (which strips exactly one) round-trips every value.
    """
    text = ILLEGAL_CHARACTERS_RE.sub("", text)  # openpyxl refuses control characters
    return "'" + text if text.lstrip("'").startswith(_FORMULA_START) else text


def _restore(text: str) -> str:
    """Inverse of ``_neutralise``."""
    if text.startswith("'") and text.lstrip("'").startswith(_FORMULA_START):
        return text[1:]
    return text


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
        return _neutralise(choices.get(value, value))
    if f and f.kind == "date" and isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, (dt.date, int, float)) and not _is_text(f):
        return value
    return _neutralise(str(value))


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
    parts = [p for p in (_REF_HINTS.get(f.name), f.help) if p]
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
                lists[f"{lc}{r}"] = label
            formula = f"{quote_sheetname(LISTS_SHEET)}!${lc}$1:${lc}${len(labels)}"
        dv = DataValidation(type="list", formula1=formula, allow_blank=True,
                            showErrorMessage=True, errorTitle="输入有误",
                            error=f"{col.header}请从下拉列表中选择")
        letter = get_column_letter(idx)
        dv.add(f"{letter}2:{letter}{_EXCEL_MAX_ROW}")
        ws.add_data_validation(dv)


# ---------------------------------------------------------------- template

def write_template(target: Source) -> None:
    """Write the blank import template (A30–A31): the data sheet and the 填表说明 sheet.

    Headers as on the paper form, required ones marked with ``*`` and a fill;
    drop-downs for coded fields; dates as yyyy-mm-dd and number-like fields as
    text so leading zeros survive (F4). The instructions sheet quotes F1–F9
    verbatim and explains every column.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    for idx, col in enumerate(COLUMNS, 1):
        cell = ws.cell(row=1, column=idx, value=col.title)
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
        info.append([line])
    info.append([])
    info.append(["各栏填写方法（带*的为必填栏）"])
    info.cell(row=info.max_row, column=1).font = Font(bold=True, size=12)
    info.append(["栏目", "是否必填", "填写要求"])
    for c in info[info.max_row]:
        c.font = _HEADER_FONT
    for col in COLUMNS:
        info.append([col.header, "是" if col.field.required else "否", _column_help(col)])
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


def _check_zip(fh: IO[bytes], max_uncompressed: int, max_ratio: float) -> None:
    """Refuse non-zip, zip-bomb and macro-enabled input before openpyxl parses it."""
    head = fh.read(8)
    fh.seek(0)
    if not head:
        raise RuleViolation(_INVALID + "文件为空")
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
            if big and big_unc > max_ratio * max(big_comp, 1):
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


def open_workbook_checked(
    source: Source,
    *,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> Workbook:
    """Open an uploaded workbook read-only (values, not formulas) after safety checks.

    Raises ``RuleViolation`` ("文件不是有效的Excel（.xlsx）文件：…") for empty files,
    .xls/CSV/other non-xlsx content, more than ``max_uncompressed`` bytes unpacked,
    a compression ratio above ``max_ratio`` (members > 1 MB), or macros. The
    caller must ``close()`` the workbook; that also closes a file opened here.
    """
    fh, owned = _open_source(source, max_uncompressed)
    try:
        _check_zip(fh, max_uncompressed, max_ratio)
        try:
            wb = load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises anything from KeyError to XML errors
            raise RuleViolation(_INVALID + "无法解析工作簿内容") from exc
    except BaseException:
        if owned:
            fh.close()
        raise
    if owned:
        close = wb.close

        def close_all() -> None:
            close()
            fh.close()

        wb.close = close_all  # type: ignore[method-assign]
    return wb


# ---------------------------------------------------------------- reading

def _norm_header(value: Any) -> str:
    return re.sub(r"\s+", "", str(value)).strip(REQUIRED_MARK + "＊") if value is not None else ""


_BY_HEADER: dict[str, Column] = {}
for _c in COLUMNS:
    _BY_HEADER[_norm_header(_c.header)] = _c
    _BY_HEADER.setdefault(_c.name, _c)  # API names are accepted too
_CHOICE_CODES: dict[str, dict[str, str]] = {
    f.name: {**{c.lower(): c for c in f.choices}, **{label: c for c, label in f.choices.items()}}
    for f in FORM_FIELDS if f.choices
}


def _to_text(col: Column, value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOL_LABELS[value]
    if isinstance(value, (int, float)):
        if isinstance(value, float) and abs(value) >= 10**_EXACT_DIGITS:
            raise ValueError(f"{col.header}：数字{value:.0f}超过15位，Excel已丢失末尾数字，请将该列设为文本格式后重新填写")
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
    try:
        if re.fullmatch(r"\d{8}", text):
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if m := _DATE_RE.fullmatch(text):
            return dt.date(*map(int, m.groups()))
    except ValueError:
        pass
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
    text = re.sub(r"\s+", "", _to_text(col, value))
    codes = _CHOICE_CODES[col.name]
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
    if isinstance(value, str):
        return _restore(value.strip()).strip() or None
    return value


def _data_sheet(wb: Workbook) -> Any:
    if DATA_SHEET in wb.sheetnames:
        return wb[DATA_SHEET]
    if not wb.worksheets:
        raise RuleViolation(_INVALID + "工作簿中没有工作表")
    return wb.worksheets[0]


def _find_header(rows: Iterator[tuple]) -> tuple[int, dict[int, Column]]:
    """The first row naming at least two known columns; earlier rows (titles) are skipped."""
    for row_no, row in enumerate(rows, 1):
        if row_no > _HEADER_SCAN_ROWS:
            break
        names = ((i, _norm_header(v)) for i, v in enumerate(row))
        found = {i: _BY_HEADER[h] for i, h in names if h in _BY_HEADER}
        if len(found) < 2:
            continue
        seen: dict[str, int] = {}
        for i, col in found.items():
            if col.name in seen:
                raise RuleViolation(f"表头中“{col.header}”列重复出现", field=col.name)
            seen[col.name] = i
        missing = [c.header for c in COLUMNS if c.field.required and c.name not in seen]
        if missing:
            raise RuleViolation(f"缺少必填列：{'、'.join(missing)}", rule="A31")
        return row_no, found
    raise RuleViolation(_INVALID + "未找到表头行（应有“姓名”“身份证号”等列名），请使用系统提供的模板")


def read_rows(source: Source, **limits: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream data rows of an uploaded registry workbook as (Excel row number, raw dict) (A31).

    The file and its header are checked when this is called (``RuleViolation``
    before any row is produced); rows are then read lazily with flat memory.
    Each dict has one key per recognised column (labels mapped back to codes,
    是/否 to bool, dates to ``date``, text kept as ``str`` with leading zeros;
    empty cells → None) plus ``"_errors"``: the cells that could not be
    converted, as ``RuleViolation(field=...)``; such fields are None. Fully
    empty rows are skipped. ``limits`` go to ``open_workbook_checked``.
    """
    wb = open_workbook_checked(source, **limits)
    try:
        ws = _data_sheet(wb)
        ws.reset_dimensions()  # trust the cells, not a possibly wrong <dimension> tag
        rows = ws.iter_rows(min_row=1, values_only=True)
        header_row, columns = _find_header(rows)
    except BaseException:
        wb.close()
        raise
    return _records(wb, rows, header_row, columns)


def _records(wb: Workbook, rows: Iterator[tuple], header_row: int,
             columns: dict[int, Column]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        for row_no, row in enumerate(rows, header_row + 1):
            values = [_clean(v) for v in row]
            if all(v is None for v in values):
                continue
            record: dict[str, Any] = {}
            errors: list[RuleViolation] = []
            for idx, col in columns.items():
                value = values[idx] if idx < len(values) else None
                if value is not None:
                    try:
                        value = _convert(col, value)
                    except ValueError as exc:
                        errors.append(RuleViolation(str(exc), field=col.name))
                        value = None
                record[col.name] = value
            record["_errors"] = errors
            yield row_no, record
    finally:
        wb.close()


# ---------------------------------------------------------------- writing

ExtraColumn = tuple[str, str] | tuple[str, str, Mapping[str, str]]


def write_export(
    target: Source,
    rows: Iterable[Mapping[str, Any]],
    extra_columns: Sequence[ExtraColumn] = (),
    watermark: str | None = None,
) -> int:
    """Stream registry rows to an xlsx that ``read_rows`` imports back unchanged; returns the count.

    Same headers as the template, codes as Chinese labels, bools as 是/否, dates
    as real dates (yyyy-mm-dd), text columns as text (F4 leading zeros). Strings
    that a spreadsheet would run as a formula are prefixed with ' (restored on
    import). ``extra_columns`` are read-only columns appended after the form
    (``(key, header)`` or ``(key, header, {code: label})``); imports ignore them.
    ``watermark`` (who received the data, A33) goes on a sheet of its own and
    into the workbook properties.
    """
    extras = [Column(e[0], e[1], None) for e in extra_columns]
    clash = {c.header for c in extras} & {c.header for c in COLUMNS}
    if clash:
        raise ValueError(f"extra column headers clash with form headers: {sorted(clash)}")
    extra_choices = {e[0]: e[2] for e in extra_columns if len(e) > 2}
    columns = [*COLUMNS, *extras]

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(DATA_SHEET)
    for idx, col in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(idx)].width = _width(col)
    ws.freeze_panes = "A2"
    header = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=col.title)
        _style_header(cell, col)
        header.append(cell)
    ws.append(header)

    # One styled cell per column, reused: the write-only sheet serialises each row on append.
    protos: list[WriteOnlyCell | None] = []
    for col in columns:
        fmt = _cell_format(col)
        if fmt is None and col.field is None:
            fmt = DATE_FORMAT  # only used for date values in extras
        cell = WriteOnlyCell(ws) if fmt else None
        if cell is not None:
            cell.number_format = fmt
        protos.append(cell)

    count = 0
    for row in rows:
        out: list[Any] = []
        for col, proto in zip(columns, protos, strict=True):
            value = _render(col, row.get(col.name), extra_choices.get(col.name))
            plain = col.field is None and not isinstance(value, dt.date)
            if value is None or proto is None or plain:
                out.append(value)
            else:
                proto.value = value
                out.append(proto)
        ws.append(out)
        count += 1

    if watermark:
        note = wb.create_sheet(WATERMARK_SHEET)
        note.append(["本数据仅限下列用途使用，未经市、区退管中心批准不得提供给其他单位或个人（A33）。"])
        note.append([_neutralise(watermark)])
        wb.properties.description = watermark
        wb.properties.subject = watermark
    wb.save(target)
    return count


ErrorReason = str | RuleViolation


def write_error_report(
    target: Source,
    errors: Iterable[tuple[int, Mapping[str, Any], Sequence[ErrorReason]]],
    summary: Mapping[str, int] | None = None,
) -> int:
    """Stream an import error report (A31); returns the number of rows listed.

    One line per rejected input row: 原行号, 姓名, 个人编号, 身份证号 and the reasons
    joined with "；". ``summary`` (e.g. {"总行数": 10, "成功": 8, "失败": 2}) goes on
    a second sheet. Values echo user input, so they are neutralised too.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误明细")
    key_fields = ("name", "personal_no", "id_card_no")
    widths = (10, 14, 14, 22, 80)
    for idx, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(idx)].width = width
    ws.freeze_panes = "A2"
    header = []
    for title in ("原行号", *(HEADERS[k] for k in key_fields), "错误原因"):
        cell = WriteOnlyCell(ws, value=title)
        cell.font = _HEADER_FONT
        header.append(cell)
    ws.append(header)
    count = 0
    for row_no, raw, reasons in errors:
        keys = [raw.get(k) for k in key_fields]
        text = "；".join(r.message if isinstance(r, RuleViolation) else str(r) for r in reasons)
        ws.append([row_no, *(_neutralise(str(v)) if v is not None else None for v in keys),
                   _neutralise(text)])
        count += 1
    totals = wb.create_sheet("汇总")
    totals.append([WriteOnlyCell(totals, value="项目"), WriteOnlyCell(totals, value="数量")])
    for key, value in (summary or {}).items():
        totals.append([_neutralise(str(key)), value])
    wb.save(target)
    return count
