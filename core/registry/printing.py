"""Printed documents of the registry: the registration form (F1, F2) and the contact card (A13).

Both are PDFs drawn with fpdf2, which embeds and subsets a Chinese OpenType font, so the
text can be extracted (``pdftotext``) and renders on any viewer without Asian font packs.

The font comes from the PyPI package ``pylopdf-fonts-zh-cn`` (Noto Sans SC, SIL OFL 1.1),
found at run time with :mod:`importlib.resources`; another font can be chosen with the
``font_path`` argument, the Flask config key ``PDF_FONT_PATH`` or the environment variable
``RETIREE_ADMIN_PDF_FONT`` (in that order). A TrueType/OpenType collection member is
chosen with a ``#N`` suffix, e.g. ``/usr/share/fonts/.../NotoSansCJK-Regular.ttc#2``.

Every label comes from :mod:`core.registry.fields`; only the texts that exist nowhere else
(the form's title, the 填表说明 quoted from the paper form, the contact card's captions)
are spelt here.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TextMode

from core.registry.fields import FORM_FIELDS, LABELS, SECTIONS, FormField

__all__ = [
    "COPY_KEEPERS",
    "FONT_ENV",
    "FORM_TITLE",
    "INSTRUCTIONS",
    "contact_card_pdf",
    "contact_cards_pdf",
    "registration_form_pdf",
    "registration_forms_pdf",
    "resolve_font_path",
]

# --------------------------------------------------------------------------- texts

FORM_TITLE = "企业退休人员基本信息登记表"
# F1: one copy for the city service centre, one for the community of residence.
COPY_KEEPERS = ("市退管中心留存", "社区留存")

INSTRUCTIONS_TITLE = "填 表 说 明"
# The 填表说明 of the paper form, verbatim (seed/, first lines); numbered when printed.
INSTRUCTIONS = (
    "本表一式两份，市退管中心、退休人员居住地所在社区各一份。",
    "本表各栏须根据企业退休人员情况如实、准确、完整填写，或在相应□内打√，并经单位经办人员、"
    "社区工作人员及退休人员本人签字或盖章。",
    "原工作单位栏：填本人办理退休时所在单位名称；因原单位关闭、破产等原因退休后分流至其他单位或"
    "单位改制后更名的，填分流或改制后的单位名称；自谋职业退休和协保退休人员分别填写“自谋职业”或"
    "“协保”，并由托管其档案的就业管理机构盖章。",
    "个人编号栏：按市劳动保障部门或社保经办机构核发的《苏州市城镇职工医疗保险证》或"
    "《职工退休养老证》上的个人编号填写，共8位，不足8位的前面加“0”补足8位。",
    "所在社区栏：居住在市区统筹范围内人员在“本地人员”前□内打√，并填写居住地所在区、"
    "街道（乡镇）、社区（村）名称；居住地在市区统筹范围以外人员在“居外人员”前□内打√。",
    "家庭状况栏：按民政部门规定的“特困”、“低保”标准填写。",
    "特殊人员情况栏：其中重病人员包括精神病患者、恶性肿瘤患者、尿毒症患者和因患严重疾病而"
    "丧失生活自理能力的企业退休人员。",
    "居住情况中，户口所在地情况和现居住地情况分别按本人户口簿和本人实际居住地情况填写。",
    "本填表说明中所称“市区统筹范围”为苏州市区社会保险联网统筹区域，包括金阊区、沧浪区、"
    "平江区和高新区、虎丘区，不包括吴中区、相城区、工业园区。",
)

RECORD_NO_LABEL = "编号"
YES_NO = (("是", True), ("否", False))
# F5: the parts of the community of a local resident, as the 填表说明 names them.
COMMUNITY_PARTS = (("district_name", "区"), ("street_name", "街道（乡镇）"),
                   ("community_name", "社区（村）"))
SIGN_SECTION = "签字确认"
# F2: the three confirmations: (name field, date field, how the signature is given).
SIGNATURES = (
    ("employer_handler_name", "employer_handler_date", "（签字/盖章）"),
    ("community_worker_name", "community_worker_date", "（签字/盖章）"),
    ("retiree_signed_name", "retiree_signed_date", "（签字）"),
)
SIGN_NAME_LABEL = "签名"
# PIPL: what a field left out of a masked print says instead of its value (issue #12).
WITHHELD_TEXT = "（脱敏打印件不含此项）"
SIGN_DATE_LABEL = "日期"

# A13: the contact card.
CARD_TITLE = "企业退休人员联系卡"
CARD_LABELS = {
    "community_address": "社区服务站地址",
    "community_phone": "社区服务站电话",
    "coordinator_name": "退管协管员",
    "coordinator_phone": "协管员电话",
    "street_name": "所属街道",
    "street_phone": "街道电话",
    "centre_phone": "市退管中心咨询电话",
}
CARD_FOOTER = "请妥善保管本卡，如有变动请及时告知社区。"

# --------------------------------------------------------------------------- font

FONT_ENV = "RETIREE_ADMIN_PDF_FONT"
FONT_CONFIG_KEY = "PDF_FONT_PATH"
FONT_PACKAGE = "pylopdf_fonts_zh_cn"
FONT_PACKAGE_FILE = "NotoSansSC-Regular.otf"
_FAMILY = "cjk"
_OPEN = "（“‘《〈【「([{"
_CLOSE = "，。、；：？！）”’》〉】」…,.;:?!)]}%"
# A unit of line breaking: a Latin word or one character, with the punctuation that may
# not start a line (closing marks) or end one (opening marks) held to it.
LINE_TOKEN = re.compile(
    rf"[{re.escape(_OPEN)}]*(?:[A-Za-z0-9][A-Za-z0-9.\-_/@#]*|\s|.)[{re.escape(_CLOSE)}]*"
)
_TICK = "✓"
_PT = 25.4 / 72  # mm per point


def _configured_font() -> str | None:
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - Flask is a dependency of the app
        return None
    if has_app_context():
        return current_app.config.get(FONT_CONFIG_KEY) or None
    return None


def resolve_font_path(font_path: str | None = None) -> str:
    """The font to embed: argument, Flask config, environment, then the packaged Noto Sans SC."""
    chosen = font_path or _configured_font() or os.environ.get(FONT_ENV)
    if chosen:
        return str(chosen)
    try:
        ref = resources.files(FONT_PACKAGE).joinpath(FONT_PACKAGE_FILE)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"没有可用的中文字体：请安装 pylopdf-fonts-zh-cn，或用 {FONT_ENV} 指定字体文件"
            f" (no Chinese font: pip install pylopdf-fonts-zh-cn or set {FONT_ENV})"
        ) from exc
    return str(ref)


@dataclass(frozen=True)
class _Font:
    path: str
    index: int
    has_tick: bool


@lru_cache(maxsize=8)
def _load_font(spec: str) -> _Font:
    """Check a font once per process: the file exists and which marks it can draw."""
    path, _, index = spec.partition("#")
    if not Path(path).is_file():
        raise RuntimeError(f"字体文件不存在 (font file not found): {path}")
    from fontTools.ttLib import TTFont  # fpdf2 depends on fontTools

    number = int(index or 0)
    font = TTFont(path, fontNumber=number, lazy=True)
    try:
        cmap = font.getBestCmap() or {}
    finally:
        font.close()
    return _Font(path, number, ord(_TICK) in cmap)


def _new_pdf(font: _Font, fmt) -> FPDF:
    pdf = FPDF(unit="mm", format=fmt)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0
    pdf.add_font(_FAMILY, "", font.path, collection_font_number=font.index)
    pdf.set_font(_FAMILY, size=10)
    pdf.set_creator("retiree-admin")
    pdf.set_draw_color(0)
    pdf.set_text_color(0)
    return pdf


# --------------------------------------------------------------------------- drawing


class _Canvas:
    """Small drawing helpers on top of fpdf2, positioned by text line boxes."""

    def __init__(self, pdf: FPDF, font: _Font):
        self.pdf = pdf
        self.font = font

    def size(self, pt: float) -> None:
        self.pdf.set_font_size(pt)

    def width(self, text: str, pt: float | None = None) -> float:
        if pt is not None:
            self.size(pt)
        return self.pdf.get_string_width(text)

    @staticmethod
    def baseline(top: float, line_h: float, pt: float) -> float:
        """Baseline that centres CJK glyphs (about 0.88 em up, 0.12 em down) in a line box."""
        return top + line_h / 2 + 0.38 * pt * _PT

    def text(self, x: float, top: float, line_h: float, text: str, pt: float,
             bold: bool = False) -> None:
        self.size(pt)
        y = self.baseline(top, line_h, pt)
        if not bold:
            self.pdf.text(x, y, text)
            return
        # The font has one weight: stroke the outline too. In q/Q, since the text
        # rendering mode is graphics state that outlives the text object.
        with self.pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.012 * pt):
            self.pdf.text(x, y, text)

    def wrap(self, text: str, w: float, pt: float) -> list[str]:
        """Lines of ``text`` broken to fit width ``w``.

        Chinese breaks between any two characters, except that no line starts with closing
        punctuation or ends with opening punctuation (禁则); Latin words and numbers stay whole.
        """
        if not text:
            return [""]
        self.size(pt)
        out: list[str] = []
        for para in text.splitlines() or [""]:
            line, line_w = "", 0.0
            for tok in LINE_TOKEN.findall(para):
                tw = self.pdf.get_string_width(tok)
                if line and line_w + tw > w:
                    out.append(line.rstrip())
                    line, line_w = "", 0.0
                    if tok.isspace():
                        continue
                while tw > w and len(tok) > 1:  # a word longer than the line: cut it
                    cut = len(tok)
                    while cut > 1 and self.pdf.get_string_width(tok[:cut]) > w:
                        cut -= 1
                    out.append(tok[:cut])
                    tok = tok[cut:]
                    tw = self.pdf.get_string_width(tok)
                line += tok
                line_w += tw
            out.append(line.rstrip())
        return out

    def box(self, x: float, top: float, line_h: float, pt: float, checked: bool) -> float:
        """A check box centred on the line like a glyph, ticked when ``checked``; its width."""
        side = 0.78 * pt * _PT
        y = top + (line_h - side) / 2
        self.pdf.set_line_width(0.2)
        self.pdf.rect(x, y, side, side)
        if checked:
            if self.font.has_tick:
                tick_pt = pt * 0.95
                tw = self.width(_TICK, tick_pt)
                self.pdf.text(x + (side - tw) / 2 + 0.15,
                              self.baseline(y, side, tick_pt) - 0.1, _TICK)
            else:  # no tick glyph in this font: draw one
                self.pdf.set_line_width(0.35)
                self.pdf.polyline([(x + side * 0.2, y + side * 0.5),
                                   (x + side * 0.42, y + side * 0.78),
                                   (x + side * 0.85, y + side * 0.18)])
                self.pdf.set_line_width(0.2)
        return side

    def underline(self, x1: float, x2: float, top: float, line_h: float, pt: float) -> None:
        y = self.baseline(top, line_h, pt) + 0.8
        self.pdf.set_line_width(0.15)
        self.pdf.line(x1, y, x2, y)
        self.pdf.set_line_width(0.2)


# --------------------------------------------------------------------------- values


def _fmt_date(value) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            return value.strip()
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month:02d}月{value.day:02d}日"
    return "" if value is None else str(value)


def _fmt_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return _fmt_date(value)
    return str(value).strip()


def _choice_options(f: FormField, value) -> tuple[list[tuple[str, bool]], str]:
    """All options of a choice field, the chosen one ticked; plus any unknown value."""
    choices = f.choices or {}
    chosen = None if value is None else str(value)
    known = chosen is None or chosen in choices or chosen in choices.values()
    opts = [(label, chosen in (code, label)) for code, label in choices.items()]
    return opts, "" if known else chosen


def _ref_text(f: FormField, record: dict) -> str:
    if f.name == "community":
        # F5: district, street (town) and community (village) of a local resident; a
        # resident outside the pooling area ticks 居外人员 and leaves them blank.
        outside = record.get("residence_type") == "outside"
        gap = "　" * 6
        return "　".join(
            f"{label}：{'' if outside else _fmt_text(record.get(key)) or gap}"
            for key, label in COMMUNITY_PARTS
        )
    name = _fmt_text(record.get(f"{f.name}_name"))
    return name or _fmt_text(record.get(f.name))


@dataclass
class _Cell:
    name: str
    label: str
    text: str = ""
    options: list[tuple[str, bool | None]] | None = None  # check boxes; None: plain text


def _cell_for(f: FormField, record: dict) -> _Cell:
    if f.name in record.get("withheld", ()):
        return _Cell(f.name, f.label, WITHHELD_TEXT)
    value = record.get(f.name)
    if f.kind == "choice":
        opts, extra = _choice_options(f, value)
        return _Cell(f.name, f.label, extra, opts)
    if f.kind == "bool":
        return _Cell(f.name, f.label, "", [(label, value is flag) for label, flag in YES_NO])
    if f.kind == "date":
        return _Cell(f.name, f.label, _fmt_date(value))
    if f.kind == "ref":
        return _Cell(f.name, f.label, _ref_text(f, record))
    return _Cell(f.name, f.label, _fmt_text(value))


# --------------------------------------------------------------------------- the form

_A4 = (210.0, 297.0)
_MARGIN_X = 14.0
_TOP = 11.0
_BOTTOM = 287.0
_TABLE_W = _A4[0] - 2 * _MARGIN_X
_SECTION_W = 9.0
_LABEL_W = 27.0
_HALF_W = (_TABLE_W - _SECTION_W - 2 * _LABEL_W) / 2
_FULL_W = _TABLE_W - _SECTION_W - _LABEL_W
_PAD = 1.6
_SIGN_H = 27.0
_BOX_GAP, _OPT_SPACE = 0.8, 3.2
# Fields that get a whole row whatever their value, like on the paper form (room to write).
_WIDE_FIELDS = frozenset({"community", "hukou_address", "residence_address", "health_notes"})


class _FormLayout:
    """Measures and draws one copy of the registration form at a given table font size.

    The grid depends on the fields only, not on the values, so every printed form looks
    alike: two label/value pairs a row, or one for the fields whose check boxes or text
    need the width.
    """

    def __init__(self, cv: _Canvas, record: dict, pt: float, max_lines: int | None = None):
        self.cv = cv
        self.record = record
        self.pt = pt
        self.line_h = pt * _PT * 1.45
        self.max_lines = max_lines
        self.sections = self._rows(record)
        self.heights = [[self._row_height(r) for r in rows] for _, rows in self.sections]
        for i, (section, _) in enumerate(self.sections):  # room for the upright section name
            short = len(section) * self.line_h * 1.05 + 3 - sum(self.heights[i])
            if short > 0:
                self.heights[i] = [h + short / len(self.heights[i]) for h in self.heights[i]]

    # -- measuring
    def _option_lines(self, cell: _Cell, w: float) -> list[list[tuple[str, bool | None]]]:
        lines: list[list[tuple[str, bool | None]]] = [[]]
        x = 0.0
        items = list(cell.options or [])
        if cell.text:
            items.append((cell.text, None))
        box = 0.78 * self.pt * _PT + _BOX_GAP
        for label, checked in items:
            iw = self.cv.width(label, self.pt) + (0 if checked is None else box)
            if lines[-1] and x + iw > w:
                lines.append([])
                x = 0.0
            lines[-1].append((label, checked))
            x += iw + _OPT_SPACE
        return lines

    def _lines(self, cell: _Cell, w: float) -> int:
        inner = w - 2 * _PAD
        if cell.options is not None:
            return len(self._option_lines(cell, inner))
        n = len(self.cv.wrap(cell.text, inner, self.pt))
        return min(n, self.max_lines) if self.max_lines else n

    def _is_wide(self, cell: _Cell) -> bool:
        if cell.name in _WIDE_FIELDS:
            return True
        if cell.options is not None:
            return len(self._option_lines(cell, _HALF_W - 2 * _PAD)) > 1
        return False

    def _rows(self, record: dict) -> list[tuple[str, list[list[_Cell]]]]:
        out = []
        for section in SECTIONS:
            if section == SIGN_SECTION:
                continue
            rows: list[list[_Cell]] = []
            pending: _Cell | None = None
            for f in FORM_FIELDS:
                if f.section != section:
                    continue
                c = _cell_for(f, record)
                if not self._is_wide(c):
                    if pending is None:
                        pending = c
                    else:
                        rows.append([pending, c])
                        pending = None
                    continue
                if pending is not None:
                    rows.append([pending])
                    pending = None
                rows.append([c])
            if pending is not None:
                rows.append([pending])
            out.append((section, rows))
        return out

    def _row_height(self, row: list[_Cell]) -> float:
        lines = 1
        w = _HALF_W if len(row) == 2 else _FULL_W
        for c in row:
            lines = max(lines, self._lines(c, w),
                        len(self.cv.wrap(c.label, _LABEL_W - 2 * _PAD, self.pt)))
        return max(lines * self.line_h + 2 * _PAD, 7.6)

    def table_height(self) -> float:
        return sum(sum(hs) for hs in self.heights) + _SIGN_H

    def stretch(self, available: float, most: float = 3.0) -> None:
        """Share spare room on the page among the rows (at most ``most`` mm each)."""
        n = sum(len(hs) for hs in self.heights)
        extra = min(most, max(0.0, available - self.table_height()) / n)
        self.heights = [[h + extra for h in hs] for hs in self.heights]

    # -- drawing
    def _draw_lines(self, x: float, top: float, w: float, h: float, lines: list[str],
                    align: str = "L") -> None:
        y = top + (h - len(lines) * self.line_h) / 2
        for line in lines:
            lx = x + _PAD
            if align == "C":
                lx = x + (w - self.cv.width(line, self.pt)) / 2
            self.cv.text(lx, y, self.line_h, line, self.pt)
            y += self.line_h

    def _draw_value(self, cell: _Cell, x: float, top: float, w: float, h: float) -> None:
        inner = w - 2 * _PAD
        if cell.options is None:
            lines = self.cv.wrap(cell.text, inner, self.pt)
            if self.max_lines and len(lines) > self.max_lines:
                lines = lines[: self.max_lines]
                lines[-1] = lines[-1][:-1] + "…"
            self._draw_lines(x, top, w, h, lines)
            return
        opt_lines = self._option_lines(cell, inner)
        y = top + (h - len(opt_lines) * self.line_h) / 2
        for items in opt_lines:
            cx = x + _PAD
            for label, checked in items:
                if checked is not None:
                    cx += self.cv.box(cx, y, self.line_h, self.pt, checked) + _BOX_GAP
                self.cv.text(cx, y, self.line_h, label, self.pt)
                cx += self.cv.width(label, self.pt) + _OPT_SPACE
            y += self.line_h

    def _draw_section_label(self, section: str, x: float, top: float, h: float) -> None:
        self.cv.pdf.rect(x, top, _SECTION_W, h)
        step = min(self.line_h * 1.15, (h - 2) / max(len(section), 1))
        y = top + (h - step * len(section)) / 2
        for ch in section:
            self.cv.text(x + (_SECTION_W - self.cv.width(ch, self.pt)) / 2, y, step, ch,
                         self.pt, bold=True)
            y += step

    def draw_table(self, top: float) -> float:
        pdf = self.cv.pdf
        y = top
        pdf.set_line_width(0.2)
        for (section, rows), heights in zip(self.sections, self.heights, strict=True):
            s_top = y
            for row, h in zip(rows, heights, strict=True):
                x = _MARGIN_X + _SECTION_W
                vw = _HALF_W if len(row) == 2 else _FULL_W
                for c in row:
                    pdf.rect(x, y, _LABEL_W, h)
                    self._draw_lines(x, y, _LABEL_W, h,
                                     self.cv.wrap(c.label, _LABEL_W - 2 * _PAD, self.pt), "C")
                    pdf.rect(x + _LABEL_W, y, vw, h)
                    self._draw_value(c, x + _LABEL_W, y, vw, h)
                    x += _LABEL_W + vw
                y += h
            self._draw_section_label(section, _MARGIN_X, s_top, y - s_top)
        return self._draw_signatures(y)

    def _draw_signatures(self, top: float) -> float:
        """F2: the employer's handler, the community worker and the retiree sign or stamp."""
        pdf = self.cv.pdf
        x0 = _MARGIN_X + _SECTION_W
        col_w = (_TABLE_W - _SECTION_W) / len(SIGNATURES)
        self._draw_section_label(SIGN_SECTION, _MARGIN_X, top, _SIGN_H)
        for i, (name_f, date_f, how) in enumerate(SIGNATURES):
            x = x0 + i * col_w
            pdf.rect(x, top, col_w, _SIGN_H)
            head = LABELS[name_f].removesuffix("签字") + how
            self.cv.text(x + _PAD, top + 1.2, self.line_h, head, self.pt, bold=True)
            for j, (label, value) in enumerate(
                ((SIGN_NAME_LABEL, _fmt_text(self.record.get(name_f))),
                 (SIGN_DATE_LABEL, _fmt_date(self.record.get(date_f))))
            ):
                ly = top + _SIGN_H - (2 - j) * (self.line_h + 1.4) - 0.6
                cap = f"{label}："
                self.cv.text(x + _PAD, ly, self.line_h, cap, self.pt)
                vx = x + _PAD + self.cv.width(cap, self.pt)
                if value:
                    self.cv.text(vx, ly, self.line_h, value, self.pt)
                else:
                    self.cv.underline(vx, x + col_w - 3, ly, self.line_h, self.pt)
        return top + _SIGN_H


def _instructions_lines(cv: _Canvas, pt: float) -> list[list[str]]:
    return [cv.wrap(body, _TABLE_W - 5, pt) for body in INSTRUCTIONS]


def _instructions_height(cv: _Canvas, pt: float) -> float:
    line_h = pt * _PT * 1.4
    return line_h * (sum(len(ls) for ls in _instructions_lines(cv, pt)) + 1) + 1.5


def _draw_instructions(cv: _Canvas, top: float, pt: float) -> float:
    """The 填表说明, verbatim, under the table."""
    line_h = pt * _PT * 1.4
    title_pt = pt + 1
    title_w = cv.width(INSTRUCTIONS_TITLE, title_pt)
    cv.text(_MARGIN_X + (_TABLE_W - title_w) / 2, top, line_h, INSTRUCTIONS_TITLE, title_pt,
            bold=True)
    y = top + line_h + 1.5
    for i, lines in enumerate(_instructions_lines(cv, pt), start=1):
        cv.text(_MARGIN_X, y, line_h, f"{i}．", pt)
        for line in lines:
            cv.text(_MARGIN_X + 5, y, line_h, line, pt)
            y += line_h
    return y


def _draw_copy(cv: _Canvas, record: dict, keeper: str) -> None:
    """One copy of the form on its own page, labelled with the keeper (F1)."""
    cv.pdf.add_page()
    title_pt, keeper_pt, info_pt = 18.0, 11.0, 9.5
    w = cv.width(FORM_TITLE, title_pt)
    cv.text((_A4[0] - w) / 2, _TOP, 9, FORM_TITLE, title_pt, bold=True)
    keeper_text = f"（{keeper}）"
    w = cv.width(keeper_text, keeper_pt)
    cv.text((_A4[0] - w) / 2, _TOP + 9, 6, keeper_text, keeper_pt)
    info_top = _TOP + 15.5
    cap = f"{RECORD_NO_LABEL}："
    cv.text(_MARGIN_X, info_top, 6, cap, info_pt)
    no = _fmt_text(record.get("record_no"))
    nx = _MARGIN_X + cv.width(cap, info_pt)
    if no:
        cv.text(nx, info_top, 6, no, info_pt)
    else:
        cv.underline(nx, nx + 35, info_top, 6, info_pt)
    table_top = info_top + 7

    instr_pt, instr_gap = 7.5, 4.0
    available = _BOTTOM - table_top - instr_gap - _instructions_height(cv, instr_pt)
    for pt in (10.0, 9.5, 9.0, 8.5, 8.0):  # long values: a smaller table keeps one page
        layout = _FormLayout(cv, record, pt)
        if layout.table_height() <= available:
            break
    else:
        layout = _FormLayout(cv, record, 8.0, max_lines=2)  # still too long: clip texts
    layout.stretch(available)
    end = layout.draw_table(table_top)
    _draw_instructions(cv, end + instr_gap, instr_pt)


def registration_form_pdf(record: dict, font_path: str | None = None) -> bytes:
    """F1, F2: the 企业退休人员基本信息登记表 as an A4 PDF, one page per copy.

    Page 1 is the copy kept by the city service centre (市退管中心留存), page 2 the one
    kept by the community (社区留存). ``record`` is keyed by the names in
    :data:`core.registry.fields.FORM_FIELDS` (coded fields hold the code); the optional
    keys ``employer_name``, ``custodian_agency_name``, ``district_name``, ``street_name``,
    ``community_name`` and ``record_no`` are printed for the references. Every choice is
    printed with all its options as check boxes, the chosen one ticked. Values are
    printed as given: the caller masks them (``core.registry.documents``); the fields
    named in the optional key ``withheld`` print :data:`WITHHELD_TEXT` instead.
    """
    return registration_forms_pdf([record], font_path,
                                  f"{FORM_TITLE} {_fmt_text(record.get('name'))}".strip())


def registration_forms_pdf(records: list[dict], font_path: str | None = None,
                           title: str = FORM_TITLE) -> bytes:
    """The forms of several people in one PDF (the roster's batch print): each record
    as :func:`registration_form_pdf` prints it, two pages per person, in order."""
    font = _load_font(resolve_font_path(font_path))
    pdf = _new_pdf(font, "A4")
    pdf.set_title(title)
    cv = _Canvas(pdf, font)
    for record in records:
        for keeper in COPY_KEEPERS:
            _draw_copy(cv, record, keeper)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- contact card

_CARD = (90.0, 54.0)


def contact_card_pdf(card: dict, font_path: str | None = None) -> bytes:
    """A13: the contact card (联系卡) a community gives each retiree, 90 × 54 mm.

    Keys: ``name``, ``personal_no``, ``community_name``, ``community_address``,
    ``community_phone``, ``coordinator_name``, ``coordinator_phone``, ``street_name``,
    ``street_phone``, ``centre_phone``; a missing one is printed as a blank line.
    """
    return contact_cards_pdf([card], font_path,
                             f"{CARD_TITLE} {_fmt_text(card.get('name'))}".strip())


def contact_cards_pdf(cards: list[dict], font_path: str | None = None,
                      title: str = CARD_TITLE) -> bytes:
    """Several contact cards in one PDF, one card per page (the roster's batch print)."""
    font = _load_font(resolve_font_path(font_path))
    pdf = _new_pdf(font, _CARD)
    pdf.set_title(title)
    cv = _Canvas(pdf, font)
    for card in cards:
        pdf.add_page()
        _draw_card(cv, card)
    return bytes(pdf.output())


def _draw_card(cv: _Canvas, card: dict) -> None:
    pdf = cv.pdf
    w, h = _CARD
    m = 2.5
    pdf.set_line_width(0.3)
    pdf.rect(1.2, 1.2, w - 2.4, h - 2.4, round_corners=True, corner_radius=2)
    pdf.set_line_width(0.2)
    title_pt = 10.5
    cv.text((w - cv.width(CARD_TITLE, title_pt)) / 2, 2.6, 5.5, CARD_TITLE, title_pt, bold=True)
    pdf.line(m + 1, 8.8, w - m - 1, 8.8)

    def val(key: str) -> str:
        return _fmt_text(card.get(key))

    rows: list[list[tuple[str, str]]] = [
        [(LABELS["name"], val("name")), (LABELS["personal_no"], val("personal_no"))],
        [(LABELS["community"], val("community_name"))],
        [(CARD_LABELS["community_address"], val("community_address"))],
        [(CARD_LABELS["community_phone"], val("community_phone"))],
        [(CARD_LABELS["coordinator_name"], val("coordinator_name")),
         (CARD_LABELS["coordinator_phone"], val("coordinator_phone"))],
        [(CARD_LABELS["street_name"], val("street_name")),
         (CARD_LABELS["street_phone"], val("street_phone"))],
        [(CARD_LABELS["centre_phone"], val("centre_phone"))],
    ]
    pt, line_h = 7.0, 4.75
    left, right = m + 1.5, w - m - 1.5
    y = 9.6
    for row in rows:
        col_w = (right - left) / len(row)
        for i, (label, value) in enumerate(row):
            x = left + i * col_w
            end = x + col_w - (2.0 if i < len(row) - 1 else 0)
            cap = f"{label}："
            cv.text(x, y, line_h, cap, pt, bold=True)
            vx = x + cv.width(cap, pt)
            if not value:
                cv.underline(vx + 0.5, end, y, line_h, pt)
                continue
            vpt = pt  # shrink a long value to its space rather than overflow the card
            while vpt > 5.0 and cv.width(value, vpt) > end - vx:
                vpt -= 0.25
            while value and cv.width(value, vpt) > end - vx:
                value = value[:-2] + "…"
            cv.text(vx, y, line_h, value, vpt)
        y += line_h
    foot_pt = 5.5
    cv.text((w - cv.width(CARD_FOOTER, foot_pt)) / 2, h - 5.6, 3, CARD_FOOTER, foot_pt)
