"""The printed city agreement (A12): an A4 PDF drawn with fpdf2 in the Chinese font core
embeds (``core.pdfdoc.Document``), so its text can be extracted."""
from __future__ import annotations

from core.pdfdoc import NUMERALS, Document, cn_date
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
