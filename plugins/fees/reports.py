"""A38 (issue 14 item 19): the period report of the funds as a workbook and as a PDF —
the same figures the screen shows: the special account (city level only) and the
service organisations' books."""
from __future__ import annotations

from io import BytesIO

from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Font

from core.pdfdoc import Document, cn_date
from core.xlsx import safe_row
from plugins.fees.fund import PeriodReport
from plugins.fees.money import yuan

TITLE = "社会化管理服务费收支期间报表"
MONEY_FORMAT = "#,##0.00"
BOOK_HEADERS = ("账簿", "期初（元）", "拨入（元）", "支出（元）", "期末（元）")


def period_text(report: PeriodReport) -> str:
    return f"{cn_date(report.date_from)}至{cn_date(report.date_to)}"


def special_rows(report: PeriodReport) -> list[tuple[str, object]]:
    """The special account's lines, income and spending kept apart (A38)."""
    return [("期初余额", report.opening), ("本期收入", None),
            *((f"　{k}", v) for k, v in report.income.items()),
            ("收入合计", report.income_total), ("本期支出（拨付服务机构）", None),
            *((f"　{k}", v) for k, v in report.spending.items()),
            ("支出合计", report.spending_total), ("期末余额", report.closing)]


def book_rows(report: PeriodReport) -> list[tuple]:
    return [(b.name, b.opening, b.received, b.spent, b.closing) for b in report.books]


def _bold_first_row(ws) -> None:
    for cell in ws[1]:
        cell.font = Font(bold=True)


def report_xlsx(report: PeriodReport, with_special: bool) -> bytes:
    wb = Workbook()
    books = wb.active
    books.title = "服务机构经费账"
    if with_special:
        special = wb.create_sheet("财政专户", 0)
        special.append(safe_row((f"{TITLE}（{period_text(report)}）", "")))
        special.append(safe_row(("项目", "金额（元）")))
        for label, amount in special_rows(report):
            special.append(safe_row((label, amount)))
        for cell in special["B"][2:]:
            cell.number_format = MONEY_FORMAT
        special.column_dimensions["A"].width = 30
        special.column_dimensions["B"].width = 16
        _bold_first_row(special)
    books.append(safe_row(BOOK_HEADERS))
    for row in book_rows(report):
        books.append(safe_row(row))
    for column in "BCDE":
        for cell in books[column][1:]:
            cell.number_format = MONEY_FORMAT
        books.column_dimensions[column].width = 14
    books.column_dimensions["A"].width = 36
    _bold_first_row(books)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def report_pdf(report: PeriodReport, with_special: bool) -> bytes:
    doc = Document()
    doc.pdf.set_title(TITLE)
    doc.page()
    doc.title(TITLE)
    doc.para(f"期间：{period_text(report)}", indent=False)
    pdf = doc.pdf
    heading = FontFace(fill_color=230)
    if with_special:
        doc.para("一、财政专户（收支两条线）", bold=True, indent=False)
        pdf.set_font("cjk", size=10.5)
        with pdf.table(col_widths=(100, 50), text_align=("LEFT", "RIGHT"), line_height=7,
                       headings_style=heading) as table:
            table.row(("项目", "金额（元）"))
            for label, amount in special_rows(report):
                table.row((label, "" if amount is None else yuan(amount)))
        pdf.ln(4)
    doc.para(f"{'二、' if with_special else ''}服务机构经费账", bold=True, indent=False)
    pdf.set_font("cjk", size=10.5)
    with pdf.table(col_widths=(56, 26, 26, 26, 26), line_height=7, headings_style=heading,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as table:
        table.row(BOOK_HEADERS)
        for name, *amounts in book_rows(report):
            table.row((name, *(yuan(a) for a in amounts)))
        if not report.books:
            table.row(("暂无", "", "", "", ""))
    pdf.ln(8)
    doc.columns([("制表人：", "审核人："), ("", cn_date(None))])
    return doc.output()
