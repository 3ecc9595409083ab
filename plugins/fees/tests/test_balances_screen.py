"""Issue 14 item 19: 单位缴费余额 and 欠费清单 are one screen (A35, A36) with totals, an
xlsx export of the rows shown and a 催缴通知书 per enterprise in arrears."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO
from urllib.parse import quote

from openpyxl import load_workbook
from sqlalchemy import select

from plugins.fees.tests.conftest import ACTIVE, BANKRUPT


def test_A35_one_balances_screen_with_arrears_filter(owing, pay, client_for):
    owing(2)
    owing(1, BANKRUPT, start=10)
    assert pay("1200.00").status_code == 201
    city = client_for("city")
    page = city.get("/fees/balances/?arrears=1").get_data(as_text=True)
    assert "欠费清单" in page and "苏州红旗机械厂" in page and "苏州第一纺织厂" not in page
    assert "打印催缴通知书" in page and "导出本表" in page
    menu = city.get("/fees/balances/").get_data(as_text=True)
    assert "/fees/arrears/" not in menu and menu.count("单位缴费余额") >= 1
    assert "欠费清单" not in menu.split('id="fees-balances"')[0].split("<h3>")[0]


def test_A35_export_is_what_the_screen_shows(owing, pay, client_for):
    owing(2)
    owing(1, BANKRUPT, start=10)
    assert pay("1005.30").status_code == 201
    city = client_for("city")
    stamp = date.today().isoformat()
    everything = city.get("/fees/balances/export")
    assert everything.status_code == 200
    assert everything.headers["Content-Disposition"] == (
        f'attachment; filename="fee-balances-{stamp}.xlsx"; '
        f"filename*=UTF-8''{quote(f'单位缴费余额-{stamp}.xlsx')}")
    ws = load_workbook(BytesIO(everything.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:2] == ("单位编号", "单位名称")
    assert [r[0] for r in rows[1:-1]] == [ACTIVE, BANKRUPT]
    first = rows[1]
    assert first[1] == "苏州第一纺织厂" and first[4] == 2
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in first[5:8]] == [
        Decimal("1200.00"), Decimal("1005.30"), Decimal("194.70")]
    total = rows[-1]
    assert total[0] == "合计（2 个单位）" and total[4] == 3
    assert Decimal(str(total[7])).quantize(Decimal("0.01")) == Decimal("794.70")
    assert ws["F2"].number_format == "#,##0.00"
    arrears = city.get("/fees/balances/export?arrears=1")
    assert f'filename="fee-arrears-{stamp}.xlsx"' in arrears.headers["Content-Disposition"]
    rows = list(load_workbook(BytesIO(arrears.data)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:-1]] == [ACTIVE, BANKRUPT]
    assert pay("194.70").status_code == 201
    rows = list(load_workbook(BytesIO(city.get("/fees/balances/export?arrears=1").data))
                .active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:-1]] == [BANKRUPT] and rows[-1][0] == "合计（1 个单位）"
    assert client_for("sup").get("/fees/balances/export").status_code == 200


def test_A35_A36_demand_notice_per_enterprise_in_arrears(owing, pay, client_for, pdf_text,
                                                         enterprise_id, session_of):
    owing(2, BANKRUPT)

    def backdate(session):  # one due fell due a year earlier: two years on the notice
        from plugins.fees.models import FeeDue

        due = session.scalars(select(FeeDue).order_by(FeeDue.id)).first()
        due.due_on = due.due_on.replace(year=due.due_on.year - 1)
        session.commit()
        return due.due_on.year
    first_year = session_of(backdate)
    assert pay("100.00", BANKRUPT, funding_source="state_asset").status_code == 201
    city = client_for("city")
    pk = enterprise_id(BANKRUPT)
    response = city.get(f"/fees/balances/notice/{pk}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="fee-notice-{BANKRUPT}.pdf"; '
        f"filename*=UTF-8''{quote('催缴通知书-苏州红旗机械厂.pdf')}")
    text = pdf_text(response.data)
    for expected in ("企业退休人员社会化管理服务费催缴通知书", "市工投公司", "苏州红旗机械厂（破产，由贵单位作为行业主管部门代缴）",
                     f"{first_year}年500.00", f"{first_year + 1}年600.00", "合计1,100.00",
                     "共计1,100.00元", "收款单位（盖章）", "前将上述欠缴服务费"):
        assert expected in text, (expected, text)
    owing(1, start=20)
    assert pay("600.00").status_code == 201
    paid_up = city.get(f"/fees/balances/notice/{enterprise_id(ACTIVE)}", follow_redirects=True)
    assert "该单位没有欠缴服务费" in paid_up.get_data(as_text=True)
    assert client_for("d_pj").get(f"/fees/balances/notice/{pk}").status_code in (302, 403, 404)
