"""A35, A36 (issue 14 item 19): documents of the fee screens — the balances workbook of
the rows shown, the 催缴通知书 (payment demand) to one enterprise in arrears, and the
signed 分期缴费协议 (instalment agreement)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.pdfdoc import Document, cn_date
from core.xlsx import safe_row
from plugins.fees.assessment import Balance, payer_of
from plugins.fees.models import FeeDue
from plugins.fees.money import ZERO, yuan
from plugins.fees.receipts import RECEIVER

NOTICE_TITLE = "企业退休人员社会化管理服务费催缴通知书"
NOTICE_DAYS = 30  # the deadline printed: this many days from the day of printing
HEADERS = ("单位编号", "单位名称", "状态", "缴款方", "人数", "应缴（元）", "已缴（元）",
           "欠缴（元）", "分期计划")
MONEY_FORMAT = "#,##0.00"


def payer_text(b: Balance) -> str:
    if not b.payer_name:
        return "（未登记行业主管部门）"
    return b.payer_name + ("（行业主管部门代缴）" if b.payer_kind == "industry_authority" else "")


def balances_xlsx(rows: list[Balance], title: str) -> bytes:
    """The rows shown on the screen, money as numbers (two decimals), and the totals."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(safe_row(HEADERS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for b in rows:
        ws.append(safe_row((b.enterprise.unit_no, b.enterprise.name, b.enterprise.status_label,
                            payer_text(b), b.retirees, b.assessed, b.paid, b.outstanding,
                            b.plan.state_label if b.plan else "")))
    totals = [sum((getattr(b, k) for b in rows), ZERO) for k in ("assessed", "paid",
                                                                  "outstanding")]
    ws.append(safe_row((f"合计（{len(rows)} 个单位）", "", "", "",
                        sum(b.retirees for b in rows), *totals, "")))
    ws[ws.max_row][0].font = Font(bold=True)
    for column in "FGH":
        for cell in ws[column][1:]:
            cell.number_format = MONEY_FORMAT
    for column, width in zip("ABCDEFGHI", (12, 30, 10, 34, 8, 14, 14, 14, 12), strict=True):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A2"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def owed_by_year(session: Session, enterprise_id: int) -> list[tuple[int, Decimal]]:
    """What the enterprise still owes, per year its dues fell due (oldest first)."""
    per_year: dict[int, Decimal] = {}
    for due in session.execute(select(FeeDue).where(
            FeeDue.enterprise_id == enterprise_id, FeeDue.paid_amount < FeeDue.amount)
            .order_by(FeeDue.due_on, FeeDue.id)).scalars():
        year = due.due_on.year
        per_year[year] = per_year.get(year, ZERO) + due.amount - due.paid_amount
    return sorted(per_year.items())


def notice_pdf(b: Balance, years: list[tuple[int, Decimal]], today: date | None = None) -> bytes:
    """A35, A36: the demand to the payer (the enterprise, or the industry authority for a
    closed one): the amounts owed per year, the total, the deadline and the stamp space."""
    today = today or date.today()
    enterprise = b.enterprise
    doc = Document()
    doc.pdf.set_title(f"{NOTICE_TITLE} {enterprise.unit_no}")
    doc.page(f"单位编号：{enterprise.unit_no}")
    doc.title(NOTICE_TITLE)
    addressee = b.payer_name or enterprise.name
    doc.para(f"{addressee}：", indent=False)
    on_behalf = (f"（{enterprise.status_label}，由贵单位作为行业主管部门代缴）"
                 if b.payer_kind == "industry_authority" else "")
    doc.para(f"根据本市企业退休人员社会化管理服务费的规定，{enterprise.name}{on_behalf}"
             f"的退休人员 {b.retirees} 人应缴纳社会化管理服务费。截至{cn_date(today)}，"
             f"尚欠缴服务费如下：")
    pdf = doc.pdf
    pdf.set_font("cjk", size=10.5)
    with pdf.table(col_widths=(60, 60), text_align=("LEFT", "RIGHT"), line_height=7,
                   headings_style=FontFace(fill_color=230)) as table:
        table.row(("应缴年度", "欠缴金额（元）"))
        for year, amount in years:
            table.row((f"{year}年", yuan(amount)))
        table.row(("合计", yuan(b.outstanding)))
    pdf.ln(3)
    deadline = today + timedelta(days=NOTICE_DAYS)
    doc.para(f"请于{cn_date(deadline)}前将上述欠缴服务费共计 {yuan(b.outstanding)} 元"
             f"足额缴纳至{RECEIVER}。确有困难的，可在期限内申请分期缴纳。"
             f"已缴纳的，请持缴费凭证与我中心核对。")
    doc.para("特此通知。")
    pdf.ln(6)
    doc.columns([("", f"收款单位：{RECEIVER}"), ("", "收款单位（盖章）"),
                 ("", cn_date(today))], space={1: 30})
    return doc.output()


AGREEMENT_TITLE = "企业退休人员社会化管理服务费分期缴费协议"


def agreement_pdf(plan) -> bytes:
    """A36 (issue 14 item 19): the signed instalment agreement — the parties (the payer:
    the enterprise, or its industry authority), the approval, the schedule, the total,
    and the signature and stamp spaces."""
    enterprise = plan.enterprise
    kind, payer = payer_of(enterprise)
    doc = Document()
    doc.pdf.set_title(f"{AGREEMENT_TITLE} {plan.agreement_no}")
    doc.page(f"协议编号：{plan.agreement_no}")
    doc.title(AGREEMENT_TITLE)
    party_a = payer or enterprise.name
    doc.para(f"甲方：{party_a}" + (f"（代{enterprise.name}缴纳，该单位{enterprise.status_label}）"
                                 if kind == "industry_authority" else "")
             + f"　单位编号：{enterprise.unit_no}", indent=False)
    doc.para(f"乙方：{RECEIVER}", indent=False)
    doc.para(f"甲方因经营困难，申请分期缴纳所欠企业退休人员社会化管理服务费共计"
             f"{yuan(plan.total)}元，经乙方审核、市劳动保障部门批准"
             f"（批准文号：{plan.approval_no or '—'}），双方约定如下：")
    doc.para("一、分期缴费计划", bold=True, indent=False)
    pdf = doc.pdf
    pdf.set_font("cjk", size=10.5)
    with pdf.table(col_widths=(30, 50, 50), text_align=("LEFT", "LEFT", "RIGHT"),
                   line_height=7, headings_style=FontFace(fill_color=230)) as table:
        table.row(("期次", "应缴日期", "应缴金额（元）"))
        for i in plan.instalments:
            table.row((f"第{i.seq}年", cn_date(i.due_on), yuan(i.amount)))
        table.row(("合计", "", yuan(plan.total)))
    pdf.ln(3)
    doc.para("二、甲方按上表于应缴日期前将当期款项缴至乙方，第一年不少于总额的50%，"
             "第二年不少于30%，第三年缴清余款。")
    doc.para("三、甲方逾期未缴的，乙方可催缴；分期期间甲方新增退休人员的服务费按规定另行缴纳。")
    doc.para("四、本协议一式两份，甲、乙双方各执一份，自双方签字盖章之日起生效。")
    pdf.ln(6)
    doc.columns([("甲方（盖章）：", "乙方（盖章）："), ("代表签字：", "代表签字："),
                 (cn_date(plan.signed_on), cn_date(plan.signed_on))], space={0: 24})
    return doc.output()
