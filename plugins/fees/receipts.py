"""A35: the receipt (收款收据) of a management-fee payment, as a PDF.

Drawn with fpdf2 and the Chinese font core's printed forms use
(``core.registry.printing.resolve_font_path``), so the text can be extracted.
"""
from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.registry.fields import ENTERPRISE_STATUS
from core.registry.printing import resolve_font_path
from plugins.fees.models import FeeDue, FeePayment, FeeSettlement
from plugins.fees.money import rmb_upper, yuan

TITLE = "企业退休人员社会化管理服务费收款收据"
RECEIVER = "市企业退休人员社会化管理服务中心（市退管中心）"
_FAMILY = "cjk"


def receipt_data(session: Session, payment: FeePayment) -> dict:
    """What the receipt says, from the payment and the dues it settled."""
    settled = session.execute(
        select(FeeDue, FeeSettlement.amount).join(FeeSettlement, FeeSettlement.due_id == FeeDue.id)
        .where(FeeSettlement.payment_id == payment.id).order_by(FeeDue.due_on, FeeDue.id)).all()
    enterprise = payment.enterprise
    on_behalf = None
    if payment.payer_kind == "industry_authority":
        status = ENTERPRISE_STATUS.get(enterprise.status, enterprise.status)
        on_behalf = f"代{enterprise.name}（{status}）缴纳"
    return {
        "receipt_no": payment.receipt_no,
        "paid_on": payment.paid_on.isoformat(),
        "payer": payment.payer_name,
        "on_behalf": on_behalf,
        "funding": payment.funding_label,
        "enterprise": f"{enterprise.name}（单位编号{enterprise.unit_no}）",
        "amount": f"¥{yuan(payment.amount)}",
        "amount_upper": rmb_upper(payment.amount),
        "method": payment.method_label + (f"（{payment.reference}）" if payment.reference else ""),
        "clerk": _display_name(session, payment.recorded_by),
        "reversed": (f"已冲正（{payment.reversed_at:%Y-%m-%d}，"
                     f"经办人{_display_name(session, payment.reversed_by)}，原因：{payment.reversal_reason}）"
                     if payment.reversed else None),
        "lines": [(due.retiree.name, due.retiree.personal_no,
                   f"{yuan(due.rate)}元/年×{due.years}年", yuan(part)) for due, part in settled],
    }


def _display_name(session: Session, username: str | None) -> str:
    """The cashier as people know them (issue 14 item 19), not the login name."""
    from core.security import RegionUser

    user = session.scalar(select(RegionUser).where(RegionUser.username == username))
    name = " ".join(p for p in (getattr(user, "first_name", ""), getattr(user, "last_name", ""))
                    if p).strip()
    return name or username or "—"


def receipt_pdf(data: dict, font_path: str | None = None) -> bytes:
    path, _, index = resolve_font_path(font_path).partition("#")
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font(_FAMILY, "", path, collection_font_number=int(index or 0))
    pdf.set_title(f"{TITLE} {data['receipt_no']}")
    pdf.set_creator("retiree-admin")
    pdf.add_page()
    pdf.set_font(_FAMILY, size=16)
    pdf.cell(0, 12, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FAMILY, size=10)
    pdf.cell(95, 7, f"收据编号：{data['receipt_no']}")
    pdf.cell(0, 7, f"缴费日期：{data['paid_on']}", align="R", new_x="LMARGIN", new_y="NEXT")
    if data.get("reversed"):  # issue 14 item 16: a reversed receipt says so first
        pdf.set_font(_FAMILY, size=14)
        pdf.set_text_color(200, 0, 0)
        pdf.multi_cell(0, 9, f"本收据{data['reversed']}，作废", border=1, align="C",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(_FAMILY, size=10)
    rows = [("缴款单位", data["payer"] + (f"，{data['on_behalf']}" if data["on_behalf"] else "")),
            ("参保单位", data["enterprise"])]
    if data["funding"]:
        rows.append(("资金来源", data["funding"]))
    rows += [("金额（小写）", data["amount"]), ("金额（大写）", data["amount_upper"]),
             ("缴费方式", data["method"]),
             ("收费项目", "企业退休人员社会化管理服务费（实施细则第三十五条）")]
    pdf.set_font(_FAMILY, size=11)
    for label, value in rows:
        pdf.cell(32, 9, label, border=1)
        pdf.multi_cell(0, 9, value, border=1, new_x="LMARGIN", new_y="NEXT")
    if data["lines"]:
        pdf.ln(3)
        pdf.set_font(_FAMILY, size=10)
        pdf.cell(0, 7, f"本次缴费结清（含部分结清）退休人员 {len(data['lines'])} 名：",
                 new_x="LMARGIN", new_y="NEXT")
        with pdf.table(col_widths=(30, 30, 60, 30), text_align=("LEFT", "LEFT", "LEFT", "RIGHT"),
                       line_height=6, headings_style=FontFace(fill_color=230)) as table:
            table.row(("姓名", "个人编号", "收费标准", "本次结清（元）"))
            for line in data["lines"]:
                table.row(line)
    pdf.ln(6)
    pdf.set_font(_FAMILY, size=11)
    pdf.cell(0, 8, f"收款单位：{RECEIVER}", new_x="LMARGIN", new_y="NEXT")
    # Issue 14 item 19: room for the receiving unit's stamp, and the cashier by name.
    top = pdf.get_y() + 2
    pdf.rect(pdf.l_margin, top, 80, 36)
    pdf.set_xy(pdf.l_margin + 2, top + 2)
    pdf.cell(76, 7, "收款单位（盖章）")
    pdf.set_xy(pdf.l_margin + 95, top + 2)
    pdf.cell(0, 7, f"收款人（经办人）：{data['clerk']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(pdf.l_margin + 95, top + 12)
    pdf.cell(0, 7, "签字：")
    pdf.set_y(top + 40)
    return bytes(pdf.output())
