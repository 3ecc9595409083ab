"""The printed city agreement (A12): an A4 PDF drawn with fpdf2 in the Chinese font core
embeds (``core.registry.printing.resolve_font_path``), so its text can be extracted."""
from __future__ import annotations

import re
from datetime import date

from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos

from core.registry.printing import resolve_font_path
from plugins.city_agreement.models import CityAgreement

TITLE = "企业退休人员社会化管理协议书"
# A12 names the agreement; its clauses restate the duties the implementation rules
# (实施细则) give each side, article by article.
PREAMBLE = ("根据《苏州市区企业退休人员社会化管理服务工作实施细则》第十二条，在甲方退休人员纳入"
            "社会化管理之前，甲、乙双方签订本协议，明确退休人员社会化管理工作中双方应承担的"
            "义务和责任。")
PARTY_A_DUTIES = (
    "按每人每年120元、一次性缴纳5年的标准向乙方缴纳社会化管理服务费：本细则实施后办理退休的"
    "人员于办理退休手续时缴纳，此前已退休的人员于移交档案时缴纳（第三十五条）。",
    "移交前对退休人员档案材料进行收集鉴别、分类整理，在确保完整齐全的基础上编纂目录、装订成册，"
    "缴纳社会化管理服务费后移交退休人员档案管理中心（第二十五条、第二十六条）。",
    "与退休人员签订协议书，基本养老保险统筹范围以外按省、市规定应由企业发放的项目，继续按原办法"
    "按时足额发放；落实其他经济责任、福利待遇和企业补充医疗保险，不得以社会化管理为由减少退休"
    "人员的福利待遇（第四十二条）。",
    "档案移交前，退休人员的社会保险关系保留在甲方，日常管理工作仍由甲方承担（第十四条）。",
)
PARTY_B_DUTIES = (
    "退休人员档案移交后，将其社会保险事务和日常管理工作转入实际居住地所在社区（第十三条）。",
    "以社区为单位开立结算户，退休人员档案移交后其社会保险关系自动转入所在社区（第十四条）。",
    "退休人员养老金于每月15日实行社会化发放（第十五条）。",
    "组织街道、社区掌握退休人员生存和流动状况，做好享受社会保险待遇资格认证工作（第十六条）。",
)
CLOSING = ("本协议自甲、乙双方签字盖章之日起生效。",
           "如遇国家、省、市政策调整，可重新签订本协议。")
NUMERALS = "一二三四五六七八九十"
_OPEN = "（“‘《〈【「([{"
_CLOSE = "，。、；：？！）”’》〉】」…,.;:?!)]}%"
# A unit of line breaking: a Latin word or one character, with the punctuation that may
# not start a line (closing marks) or end one (opening marks) held to it.
_TOKEN = re.compile(rf"[{re.escape(_OPEN)}]*(?:[A-Za-z0-9][A-Za-z0-9.\-_/@#]*|\s|.)"
                    rf"[{re.escape(_CLOSE)}]*")


def cn_date(value: date | None) -> str:
    """"2025年1月6日"; a blank date prints as the paper form's "年　月　日"."""
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


def agreement_pdf(item: CityAgreement) -> bytes:
    """A12: the agreement as signed (or as a draft to sign): number, party A with its unit
    number, party B, the duties of each side, representatives, phones and dates."""
    doc = Document()
    doc.pdf.set_title(f"{TITLE} {item.document_no}")
    state = {"draft": "草稿（尚未签订）",
             "terminated": f"已于{cn_date(item.terminated_on)}终止"}.get(item.status, "")
    doc.page(f"协议编号：{item.document_no}" + (f"　{state}" if state else ""))
    doc.title(TITLE)
    enterprise = item.enterprise
    doc.para(f"甲方：{enterprise.name}（参保单位）　单位编号：{enterprise.unit_no}", indent=False)
    doc.para(f"乙方：{item.party_b_name}", indent=False)
    doc.para(PREAMBLE)
    sections = [("甲方义务和责任", PARTY_A_DUTIES), ("乙方义务和责任", PARTY_B_DUTIES)]
    for n, (heading, duties) in enumerate(sections):
        doc.para(f"{NUMERALS[n]}、{heading}", bold=True, indent=False)
        for i, duty in enumerate(duties, 1):
            doc.para(f"{i}、{duty}")
    for n, clause in enumerate(CLOSING, len(sections)):
        doc.para(f"{NUMERALS[n]}、{clause}", indent=False)
    if item.status == "terminated" and item.termination_reason:
        doc.para(f"终止原因：{item.termination_reason}", indent=False)
    doc.pdf.ln(6)
    doc.columns([
        ("甲方（签章）：", "乙方（签章）："),
        (f"甲方代表签字：{item.party_a_representative or ''}",
         f"乙方代表签字：{item.party_b_representative or ''}"),
        (f"联系电话：{item.party_a_phone or ''}", f"联系电话：{item.party_b_phone or ''}"),
        (cn_date(item.signed_on), cn_date(item.signed_on)),
    ])
    return doc.output()
