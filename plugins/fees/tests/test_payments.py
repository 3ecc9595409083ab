"""A35, A36: payments, who pays (the enterprise or its industry authority), receipts,
balances and the arrears list."""
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import select

from plugins.fees.tests.conftest import ACTIVE, BANKRUPT


def test_A36_bankrupt_enterprise_paid_by_industry_authority(owing, pay, client_for):
    owing(2, BANKRUPT)
    missing = pay("600.00", BANKRUPT)
    assert missing.status_code == 422
    message = str(missing.json["message"]["funding_source"])
    assert "市工投公司" in message and "土地拍卖收入" in message and "国有资产净收益" in message
    paid = pay("600.00", BANKRUPT, funding_source="land_auction")
    assert paid.status_code == 201, paid.json
    assert (paid.json["payer_kind"], paid.json["payer_name"]) == ("industry_authority", "市工投公司")
    [row] = client_for("city").get("/api/v1/fee_balance/").json["result"]
    assert (row["payer_kind"], row["payer_name"], row["outstanding"]) == \
        ("industry_authority", "市工投公司", "600.00")
    arrears = client_for("city").get("/fees/balances/?arrears=1").get_data(as_text=True)
    assert "苏州红旗机械厂" in arrears and "行业主管部门代缴" in arrears


def test_A36_trading_enterprise_pays_itself_without_funding_source(owing, pay):
    owing(1)
    refused = pay("600.00", funding_source="state_asset")
    assert refused.status_code == 422
    assert "不填资金来源" in str(refused.json["message"])
    ok = pay("600.00")
    assert ok.status_code == 201
    assert (ok.json["payer_kind"], ok.json["payer_name"]) == ("enterprise", "苏州第一纺织厂")


def test_A35_payment_settles_oldest_dues_first_and_goes_to_the_special_account(
        owing, pay, client_for, dues_of, session_of):
    first, second = owing(2)
    assert pay("900.00").status_code == 201
    dues = dues_of()
    assert (dues[first][4], dues[second][4]) == (Decimal("600.00"), Decimal("300.00"))
    [row] = client_for("city").get("/api/v1/fee_balance/?arrears=1").json["result"]
    assert (row["paid"], row["outstanding"]) == ("900.00", "300.00")

    def income(session):
        from plugins.fees.models import FundAccount, FundIncome

        rows = session.execute(select(FundIncome.source, FundIncome.amount)).all()
        return rows, session.scalar(select(FundAccount.balance))
    assert session_of(income) == ([("fee", Decimal("900.00"))], Decimal("900.00"))


def test_A35_payment_above_what_is_owed_refused(owing, pay):
    owing(1)
    response = pay("600.01")
    assert response.status_code == 422
    assert "超过该单位欠缴的服务费600.00元" in str(response.json["message"])


def test_A35_payment_only_by_the_city_service_centre(owing, pay, enable):
    owing(1)
    assert pay("100.00", user="d_cl").status_code == 422
    assert pay("100.00", user="admin").status_code == 422
    assert pay("100.00", user="sup").status_code in (401, 403)
    assert pay("100.00", user="city").status_code == 201


def test_A35_arrears_list_screen_and_cli(app, owing, pay, client_for):
    owing(2)
    owing(1, BANKRUPT, start=10)
    assert pay("1200.00").status_code == 201
    page = client_for("city").get("/fees/balances/?arrears=1").get_data(as_text=True)
    assert "苏州红旗机械厂" in page and "苏州第一纺织厂" not in page
    balances = client_for("city").get("/fees/balances/").get_data(as_text=True)
    assert "苏州第一纺织厂" in balances and "1,200.00" in balances
    assert "合计（2 个单位）" in balances and "只看欠费单位" in balances  # issue 14 item 19
    assert "合计（1 个单位）" in page and "显示全部单位" in page
    result = app.test_cli_runner().invoke(args=["fees", "arrears"])
    assert result.exit_code == 0, result.output
    assert "320500002" in result.output and "320500001" not in result.output
    assert "合计欠缴：600.00 元（1 个单位）" in result.output


def test_A35_receipt_pdf(owing, pay, client_for, pdf_text):
    owing(2, BANKRUPT)
    paid = pay("1005.30", BANKRUPT, funding_source="state_asset", reference="BK20250102")
    assert paid.status_code == 201, paid.json
    pk, receipt_no = paid.json["id"], paid.json["receipt_no"]
    city = client_for("city")
    response = city.get(f"/fees/payments/receipt/{pk}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    for expected in ("企业退休人员社会化管理服务费收款收据", receipt_no, "市工投公司",
                     "代苏州红旗机械厂（破产）缴纳", "国有资产净收益", "¥1,005.30",
                     "壹仟零伍元叁角", "张三", "00001001", "李四2", "405.30", "BK20250102"):
        assert expected in text, expected
    api = city.get(f"/api/v1/fee_payment/{pk}/receipt")
    assert api.status_code == 200 and api.data.startswith(b"%PDF")
    for sent in (response, api):  # issue 14 item 7
        assert sent.headers["Content-Disposition"] == (
            f'inline; filename="receipt-{receipt_no}.pdf"; '
            f"filename*=UTF-8''{quote(f'服务费收据-{receipt_no}.pdf')}")
    assert client_for("d_pj").get(f"/fees/payments/receipt/{pk}").status_code in (302, 403, 404)


def test_A35_payment_screen_records_and_links_receipt(owing, client_for, enterprise_id):
    owing(1)
    city = client_for("city")
    form = city.get("/fees/payments/record").get_data(as_text=True)
    assert 'ra-lookup" data-placeholder' in form and 'data-url="/fees/payments/enterprises"' in form
    response = city.post("/fees/payments/record", data={
        "enterprise": str(enterprise_id(ACTIVE)), "amount": "250.50", "paid_on": "2025-01-05",
        "funding_source": "", "method": "transfer", "reference": "", "note": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    show = city.get(response.headers["Location"]).get_data(as_text=True)
    assert "打印收据" in show and "250.50" in show
    refused = city.post("/fees/payments/record", data={
        "enterprise": str(enterprise_id(ACTIVE)), "amount": "1000", "paid_on": "2025-01-05",
        "funding_source": "", "method": "transfer"}, follow_redirects=True)
    assert "超过该单位欠缴的服务费349.50元" in refused.get_data(as_text=True)


def test_A35_enterprise_chosen_by_typing_on_payment_and_plan_forms(owing, pay, client_for,
                                                                   enterprise_id):
    """Issue 14 item 19: the enterprise box asks the server as the clerk types (code prefix
    or part of the name), offering only enterprises that still owe, in the user's scope;
    a posted id it could not have offered is refused in Chinese and nothing is written."""
    owing(1)
    owing(1, BANKRUPT, start=10)
    city = client_for("city")
    for url in ("/fees/payments/enterprises", "/fees/plans/enterprises"):
        by_name = city.get(f"{url}?term=纺织").json["results"]
        assert [r["id"] for r in by_name] == [enterprise_id(ACTIVE)], url
        by_code = city.get(f"{url}?term=3205000").json["results"]
        assert {r["id"] for r in by_code} == {enterprise_id(ACTIVE), enterprise_id(BANKRUPT)}
    assert pay("600.00").status_code == 201  # paid up: no longer offered
    assert city.get("/fees/payments/enterprises?term=纺织").json["results"] == []
    refused = city.post("/fees/payments/record", data={
        "enterprise": str(enterprise_id(ACTIVE)), "amount": "1.00", "paid_on": "2025-01-05",
        "funding_source": "", "method": "transfer", "reference": "", "note": ""})
    assert refused.status_code == 200
    assert "所选缴费单位不存在或不可选" in refused.get_data(as_text=True)
    assert len(city.get("/api/v1/fee_payment/").json["result"]) == 1
    assert client_for("sup").get("/fees/payments/enterprises?term=3").status_code in (302, 403)
    assert client_for("d_pj").get("/fees/payments/enterprises?term=3").status_code in (302, 403)
