"""Flowing-text A4 documents for plugins (agreements, notices): a title, paragraphs and
two columns kept together, drawn with fpdf2 in the Chinese font core embeds
(``resolve_font_path``), so the text can be extracted. Lines break by character, never
before a closing mark or after an opening one (``LINE_TOKEN``, shared with the form)."""
from __future__ import annotations

from datetime import date

from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos

from core.registry.printing import LINE_TOKEN, resolve_font_path

NUMERALS = "一二三四五六七八九十"


def cn_date(value: date | None) -> str:
    """"2025年1月6日"; a blank date prints as the original's "年　月　日"."""
    return f"{value.year}年{value.month}月{value.day}日" if value else "　　　年　　月　　日"


class Document:
    """Flowing text on A4 pages: a title, paragraphs, two columns kept together. Lines
    are broken by character, never before a closing mark or after an opening one."""

    def __init__(self) -> None:
        path, _, index = resolve_font_path().partition("#")
        pdf = FPDF(unit="mm", format="A4")
        pdf.set_margins(25, 18, 25)
        pdf.set_auto_page_break(True, margin=16)
        pdf.add_font("cjk", "", path, collection_font_number=int(index or 0))
        pdf.set_creator("retiree-admin")
        self.pdf = pdf

    def page(self, corner: str = "") -> None:
        self.pdf.add_page()
        if corner:
            self.pdf.set_font("cjk", size=9)
            self.pdf.cell(0, 5, corner, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def lines(self, text: str, width: float) -> list[str]:
        out, line = [], ""
        for token in LINE_TOKEN.findall(text):
            if line and self.pdf.get_string_width(line + token) > width:
                out.append(line)
                line = token.lstrip()
            else:
                line += token
        return [*out, line]

    def _text(self, text: str, pt: float, align: Align, bold: bool, factor: float,
              width: float = 0) -> None:
        pdf = self.pdf
        pdf.set_font("cjk", size=pt)
        width = width or pdf.w - pdf.l_margin - pdf.r_margin
        x = pdf.get_x()
        with pdf.local_context(text_mode=TextMode.FILL_STROKE if bold else TextMode.FILL,
                               line_width=pt / 70):
            for line in self.lines(text, width):
                pdf.set_x(x)
                pdf.cell(width, pt * factor, line, align=align, new_x=XPos.LMARGIN,
                         new_y=YPos.NEXT)

    def title(self, text: str, pt: float = 17) -> None:
        self._text(text, pt, Align.C, True, 0.55)
        self.pdf.ln(2)

    def para(self, text: str, pt: float = 10.5, indent: bool = True, bold: bool = False) -> None:
        self._text(("　　" if indent else "") + text, pt, Align.L, bold, 0.58)
        self.pdf.ln(1)

    def columns(self, rows: list[tuple[str, str]], pt: float = 10.5,
                space: dict[int, float] | None = None) -> None:
        """Two columns (party A left, party B right), kept together on one page;
        ``space`` leaves empty room (mm) after the given rows, e.g. for a stamp."""
        pdf = self.pdf
        space = space or {}
        half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
        if pdf.get_y() + len(rows) * (pt * 0.75 + 1.5) + sum(space.values()) > \
                pdf.h - pdf.b_margin:
            pdf.add_page()
        for i, (left, right) in enumerate(rows):
            y = pdf.get_y()
            self._text(left, pt, Align.L, False, 0.75, half - 3)
            bottom = pdf.get_y()
            pdf.set_xy(pdf.l_margin + half, y)
            self._text(right, pt, Align.L, False, 0.75, half)
            pdf.set_y(max(bottom, pdf.get_y()) + 1.5 + space.get(i, 0))

    def output(self) -> bytes:
        return bytes(self.pdf.output())
