"""The printed Park agreement (P1–P4), following the original's structure: title, party
A (insured unit, with unit number) and party B, the basis, party A's and party B's
duties, the three originals, the revision clause, then each side's stamp, representative's
signature, phone and date. One page per original, each labelled with its keeper.

Drawn with fpdf2 in the Chinese font core embeds (``resolve_font_path``), so the text can
be extracted.
"""
from __future__ import annotations

import re
from datetime import date

from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos

from core.registry.printing import resolve_font_path
from districts.industrial_park.models import ParkAgreementVersion
from districts.industrial_park.texts import (
    ORIGINALS_CLAUSE,
    PARTY_A_HEADING,
    PARTY_B_HEADING,
    PREAMBLE,
    REVISION_CLAUSE,
    TITLE,
)

NUMERALS = "一二三四五六七八九十"
_OPEN = "（“‘《〈【「([{"
_CLOSE = "，。、；：？！）”’》〉】」…,.;:?!)]}%"
# A unit of line breaking: a Latin word or one character, with the punctuation that may
# not start a line (closing marks) or end one (opening marks) held to it.
_TOKEN = re.compile(rf"[{re.escape(_OPEN)}]*(?:[A-Za-z0-9][A-Za-z0-9.\-_/@#]*|\s|.)"
                    rf"[{re.escape(_CLOSE)}]*")


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
        for token in _TOKEN.findall(text):
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

    def columns(self, rows: list[tuple[str, str]], pt: float = 10.5) -> None:
        """Two columns (party A left, party B right), kept together on one page."""
        pdf = self.pdf
        half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
        if pdf.get_y() + len(rows) * (pt * 0.75 + 1.5) > pdf.h - pdf.b_margin:
            pdf.add_page()
        for left, right in rows:
            y = pdf.get_y()
            self._text(left, pt, Align.L, False, 0.75, half - 3)
            bottom = pdf.get_y()
            pdf.set_xy(pdf.l_margin + half, y)
            self._text(right, pt, Align.L, False, 0.75, half)
            pdf.set_y(max(bottom, pdf.get_y()) + 1.5)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _party(version: ParkAgreementVersion, p: str) -> dict[str, str]:
    def get(field: str):
        return getattr(version, f"party_{p}_{field}")

    marks = "、".join(label for field, label in (("stamped", "已盖章"), ("signed", "已签字"))
                     if get(field))
    return {"stamp": f"（{marks}）" if marks else "", "rep": get("representative") or "",
            "phone": get("phone") or "", "date": cn_date(get("signed_on"))}


def agreement_pdf(version: ParkAgreementVersion) -> bytes:
    """P1–P4: the three originals of ``version``, one page each, with its own text (the
    basis and duty texts of that version), so an old version prints as it was signed."""
    agreement = version.agreement
    doc = Document()
    doc.pdf.set_title(f"{TITLE} {agreement.agreement_no} 第{version.version_no}版")
    state = {"draft": "（待签订）", "superseded": f"（{cn_date(version.superseded_on)}起已被新版本取代）"}
    a, b = _party(version, "a"), _party(version, "b")
    for original in version.originals:
        doc.page(f"协议编号：{agreement.agreement_no}　第{version.version_no}版"
                 f"{state.get(version.status, '')}　正本{original.copy_no}/{len(version.originals)}"
                 f"（{original.holder_label}）")
        doc.title(TITLE)
        doc.para(f"甲方：{version.party_a_name}（参保单位）　单位编号：{version.party_a_unit_no}",
                 indent=False)
        doc.para(f"乙方：{version.party_b_name}", indent=False)
        if version.revision_reason:
            doc.para(f"修订说明：{version.revision_reason}", indent=False, pt=9.5)
        doc.para(PREAMBLE.format(basis=version.basis))
        for n, (heading, party) in enumerate(((PARTY_A_HEADING, "A"), (PARTY_B_HEADING, "B"))):
            doc.para(f"{NUMERALS[n]}、{heading}", bold=True, indent=False)
            for duty in version.duties_of(party):
                doc.para(f"{duty.item_no}、{duty.text}")
        doc.para(f"三、{ORIGINALS_CLAUSE}", indent=False)
        doc.para(f"四、{REVISION_CLAUSE}", indent=False)
        doc.pdf.ln(5)
        doc.columns([
            (f"甲方（签章）：{a['stamp']}", f"乙方（签章）：{b['stamp']}"),
            (f"甲方代表签字：{a['rep']}", f"乙方代表签字：{b['rep']}"),
            (f"联系电话：{a['phone']}", f"联系电话：{b['phone']}"),
            (a["date"], b["date"]),
        ])
    return doc.output()
