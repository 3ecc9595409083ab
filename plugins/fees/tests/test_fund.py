"""A37–A39: the special account — income (fees, donations, sponsorship) and spending kept
apart; allocations by need, approved and checked; each organisation's own book; no
balance below zero; period reports."""
import re
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from plugins.fees.tests.conftest import CANGLANG, CL_COMMUNITY, PINGJIANG

TODAY = date.today().isoformat()


@pytest.fixture
def donate(client_for, enable):
    enable(CANGLANG)

    def give(amount: str, source: str = "donation", user: str = "city"):
        return client_for(user).post("/api/v1/fund_income/", json={
            "source": source, "amount": amount, "received_on": TODAY,
            "from_name": "苏州某慈善基金会"})
    return give


def _request(client, region, amount: str, purpose: str = "visits"):
    return client.post("/api/v1/fund_allocation/", json={
        "organisation": region, "purpose": purpose, "amount": amount,
        "need": "春节走访慰问特困、高龄退休人员"})


def test_A37_donations_and_sponsorship_accepted(donate, client_for):
    assert donate("5000.00").status_code == 201
    assert donate("1200.50", "sponsorship").status_code == 201
    rows = client_for("city").get("/api/v1/fund_income/").json["result"]
    assert sorted((r["source"], r["amount"]) for r in rows) == [
        ("donation", "5000.00"), ("sponsorship", "1200.50")]
    accounts = client_for("city").get("/api/v1/fund_book/accounts").json["result"]
    assert [(a["code"], a["balance"]) for a in accounts] == [("special", "6200.50")]
    assert donate("10.00", user="d_cl").status_code == 422  # the city centre records income


def test_A38_income_and_spending_kept_apart(labour, app, donate, finance, client_for, region_id,
                                           owing, pay):
    """Income is positive and typed (fees only through payments); spending leaves the
    special account only as a checked allocation; the report shows both, never netted."""
    negative = donate("-100.00")
    assert negative.status_code == 422 and "不以负数冲抵" in str(negative.json["message"])
    fee_by_hand = donate("100.00", "fee")
    assert fee_by_hand.status_code == 422 and "随缴费登记自动入账" in str(fee_by_hand.json)
    owing(1)
    assert pay("600.00").status_code == 201
    assert donate("400.00").status_code == 201
    pk = _request(client_for("d_cl"), region_id(CANGLANG), "300.00").json["id"]
    assert client_for(labour).post(f"/api/v1/fund_allocation/{pk}/approve",
                                    json={"approval_no": "苏劳拨〔2025〕1号"}).status_code == 200
    assert client_for(finance).post(f"/api/v1/fund_allocation/{pk}/check",
                                    json={"checked_on": TODAY}).status_code == 200
    incomes = client_for("city").get("/api/v1/fund_income/").json["result"]
    assert sorted((r["source"], r["amount"]) for r in incomes) == [
        ("donation", "400.00"), ("fee", "600.00")]  # spending never appears as income
    result = app.test_cli_runner().invoke(args=["fees", "report", "--from", "2000-01-01"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "收入：社会化管理服务费\t600.00" in out and "收入：捐赠\t400.00" in out
    assert "收入合计\t1,000.00" in out
    assert "支出：走访慰问（病困、去世、困难退休人员）\t300.00" in out and "支出合计\t300.00" in out
    assert "期末余额\t700.00" in out
    assert "沧浪区退管经费账\t期初 0.00\t拨入 300.00\t支出 0.00\t期末 300.00" in out
    page = client_for("city").get(f"/fees/report/?from=2000-01-01&to={TODAY}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "收入合计" in body and "支出合计" in body


def test_A39_allocation_approved_by_labour_then_checked_by_finance(
        donate, finance, client_for, region_id, labour):
    assert donate("1000.00").status_code == 201
    created = _request(client_for("d_cl"), region_id(CANGLANG), "800.00")
    assert created.status_code == 201, created.json
    pk = created.json["id"]
    assert created.json["retirees_managed"] == 0
    fin, admin, city = client_for(finance), client_for(labour), client_for("city")
    early = fin.post(f"/api/v1/fund_allocation/{pk}/check", json={})
    assert early.status_code == 422 and "须先经劳动保障部门批准" in str(early.json)
    assert city.post(f"/api/v1/fund_allocation/{pk}/approve",
                     json={"approval_no": "x"}).status_code == 422  # not the labour dept
    assert admin.post(f"/api/v1/fund_allocation/{pk}/approve",
                      json={"approval_no": "苏劳拨〔2025〕2号"}).status_code == 200
    same = admin.post(f"/api/v1/fund_allocation/{pk}/check", json={})
    assert same.status_code == 422 and "须由市财政部门办理" in str(same.json)
    checked = fin.post(f"/api/v1/fund_allocation/{pk}/check", json={"checked_on": TODAY})
    assert checked.status_code == 200 and checked.json["state"] == "checked"
    balances = {a["code"]: a["balance"]
                for a in city.get("/api/v1/fund_book/accounts").json["result"]}
    assert balances == {"special": "200.00", CANGLANG: "800.00"}
    assert city.post(f"/api/v1/fund_allocation/{pk}/check", json={}).status_code == 422


def test_A39_balance_never_negative(labour, app, donate, finance, client_for, region_id):
    assert donate("500.00").status_code == 201
    admin, fin, d_cl = client_for(labour), client_for(finance), client_for("d_cl")
    pk = _request(d_cl, region_id(CANGLANG), "500.01").json["id"]
    assert admin.post(f"/api/v1/fund_allocation/{pk}/approve",
                      json={"approval_no": "1"}).status_code == 200
    refused = fin.post(f"/api/v1/fund_allocation/{pk}/check", json={})
    assert refused.status_code == 422
    assert "余额500.00元，不足以支出500.01元，余额不能为负" in str(refused.json["message"])
    pk = _request(d_cl, region_id(CANGLANG), "500.00").json["id"]
    admin.post(f"/api/v1/fund_allocation/{pk}/approve", json={"approval_no": "2"})
    assert fin.post(f"/api/v1/fund_allocation/{pk}/check", json={}).status_code == 200
    spend = d_cl.post("/api/v1/fund_book/expense", json={
        "organisation": region_id(CANGLANG), "purpose": "visits", "amount": "500.01",
        "entry_on": TODAY, "note": "慰问金"})
    assert spend.status_code == 422 and "余额不能为负" in str(spend.json)
    ok = d_cl.post("/api/v1/fund_book/expense", json={
        "organisation": region_id(CANGLANG), "purpose": "visits", "amount": "500.00",
        "entry_on": TODAY, "note": "慰问金"})
    assert ok.status_code == 201, ok.json
    # The database itself refuses a negative balance.
    from core.extensions import db

    with app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE fee_fund_account SET balance = -1"))
        db.session.commit()


def test_A39_spending_only_on_A34_purposes(donate, finance, client_for, region_id):
    assert donate("100.00").status_code == 201
    d_cl = client_for("d_cl")
    bad = _request(d_cl, region_id(CANGLANG), "50.00", purpose="banquet")
    assert bad.status_code == 422 and "用途须为" in str(bad.json)
    spend = d_cl.post("/api/v1/fund_book/expense", json={
        "organisation": region_id(CANGLANG), "purpose": "banquet", "amount": "1.00",
        "entry_on": TODAY, "note": "聚餐"})
    assert spend.status_code == 422 and "专款专用" in str(spend.json)


def test_A39_each_organisation_keeps_its_own_book(labour, donate, finance, client_for, region_id,
                                                  create_retiree, enable):
    enable(PINGJIANG)
    create_retiree(1, CL_COMMUNITY)
    assert donate("1000.00").status_code == 201
    admin, fin = client_for(labour), client_for(finance)
    for user, code in (("d_cl", CANGLANG), ("d_pj", PINGJIANG), ("c_cl11", CL_COMMUNITY)):
        created = _request(client_for(user), region_id(code), "100.00")
        assert created.status_code == 201, created.json
        admin.post(f"/api/v1/fund_allocation/{created.json['id']}/approve",
                   json={"approval_no": code})
        assert fin.post(f"/api/v1/fund_allocation/{created.json['id']}/check",
                        json={}).status_code == 200
    # A district may not ask in another district's name.
    assert _request(client_for("d_cl"), region_id(PINGJIANG), "1.00").status_code in (403, 422)

    def books(user):
        rows = client_for(user).get("/api/v1/fund_book/accounts").json["result"]
        return sorted(a["code"] for a in rows)
    assert books("d_cl") == [CANGLANG, CL_COMMUNITY]
    assert books("d_pj") == [PINGJIANG]
    assert books("c_cl11") == [CL_COMMUNITY]
    assert books("city") == sorted(["special", CANGLANG, PINGJIANG, CL_COMMUNITY])
    community = client_for("c_cl11").get("/api/v1/fund_allocation/").json["result"]
    assert [(r["organisation"]["name"], r["retirees_managed"]) for r in community] == [("东园社区", 1)]


def test_A39_allocation_and_book_screens(labour, donate, finance, client_for, region_id):
    assert donate("300.00").status_code == 201
    d_cl = client_for("d_cl")
    response = d_cl.post("/fees/allocations/request", data={
        "organisation": str(region_id(CANGLANG)), "purpose": "activities", "amount": "200",
        "need": "重阳节活动", "note": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    pk = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert client_for(labour).post(f"/fees/allocations/step/{pk}/approve",
                                    data={"approval_no": "3"}).status_code == 302
    assert client_for(finance).post(f"/fees/allocations/step/{pk}/check",
                                    data={"checked_on": TODAY}).status_code == 302
    assert d_cl.post("/fees/books/expense", data={
        "organisation": str(region_id(CANGLANG)), "purpose": "activities", "amount": "150.25",
        "entry_on": TODAY, "note": "场地租赁"}).status_code == 302
    page = d_cl.get("/fees/books/list/").get_data(as_text=True)
    assert "场地租赁" in page and "150.25" in page
    report = d_cl.get("/fees/report/").get_data(as_text=True)
    assert "49.75" in report and "财政专户（收支两条线" not in report  # a district: books only


def test_fund_money_is_exact_on_the_database(app, donate):
    """Amounts are exact decimals end to end: stored as NUMERIC on PostgreSQL and as
    whole fen on SQLite, summed in SQL without rounding."""
    for amount in ("0.10", "0.20", "0.01", "99999999.99"):
        assert donate(amount).status_code == 201
    from core.extensions import db
    from plugins.fees.models import FundAccount, FundIncome

    with app.app_context():
        from sqlalchemy import func

        assert db.session.scalar(select(func.sum(FundIncome.amount))) == Decimal("100000000.30")
        assert db.session.scalar(select(FundAccount.balance)) == Decimal("100000000.30")
        raw = db.session.execute(text("SELECT amount FROM fee_fund_income ORDER BY id")).scalars()
        raw = list(raw)
        if db.engine.dialect.name == "sqlite":
            assert raw[:3] == [10, 20, 1]  # whole fen, integers
        else:
            assert raw[:3] == [Decimal("0.10"), Decimal("0.20"), Decimal("0.01")]
    refused = donate("0.001")
    assert refused.status_code == 422 and "两位小数" in str(refused.json)


@pytest.fixture
def spent(labour, donate, finance, client_for, region_id):
    """300 given, 200 allocated to 沧浪区 and checked, then 150.25 and 10 spent today."""
    assert donate("300.00").status_code == 201
    d_cl = client_for("d_cl")
    response = d_cl.post("/fees/allocations/request", data={
        "organisation": str(region_id(CANGLANG)), "purpose": "activities", "amount": "200",
        "need": "重阳节活动", "note": ""})
    pk = int(response.headers["Location"].rstrip("/").split("/")[-1])
    client_for(labour).post(f"/fees/allocations/step/{pk}/approve", data={"approval_no": "3"})
    client_for(finance).post(f"/fees/allocations/step/{pk}/check", data={"checked_on": TODAY})
    for amount, note in (("150.25", "场地租赁"), ("10", "茶水")):
        assert d_cl.post("/fees/books/expense", data={
            "organisation": str(region_id(CANGLANG)), "purpose": "activities",
            "amount": amount, "entry_on": TODAY, "note": note}).status_code == 302
    return d_cl


def test_A39_book_list_shows_the_running_balance(spent):
    """Issue 14 item 19: each line shows the book's balance after it, newest first."""
    page = spent.get("/fees/books/list/").get_data(as_text=True)
    assert "余额（元）" in page
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
    balances = [re.findall(r">\s*([\d,]+\.\d\d)\s*<", row) for row in rows if "沧浪" in row]
    assert [b[-1] for b in balances] == ["39.75", "49.75", "200.00"], balances


def test_A38_period_report_exports_and_prints(spent, client_for, pdf_text):
    """Issue 14 item 19: the period report as xlsx (read back) and as a PDF (text)."""
    city = client_for("city")
    query = f"?from={date.today().year}-01-01&to={TODAY}"
    xlsx = city.get(f"/fees/report/export{query}")
    assert xlsx.status_code == 200
    span = f"{date.today().year}-01-01_{TODAY}"
    assert f'attachment; filename="fund-report-{span}.xlsx"' in xlsx.headers["Content-Disposition"]
    wb = load_workbook(BytesIO(xlsx.data))
    assert wb.sheetnames == ["财政专户", "服务机构经费账"]
    special = {r[0]: r[1] for r in wb["财政专户"].iter_rows(min_row=3, values_only=True)}
    money = {k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in special.items()
             if v is not None}
    assert money["收入合计"] == Decimal("300.00") and money["支出合计"] == Decimal("200.00")
    assert money["期末余额"] == Decimal("100.00")
    books = {r[0]: r[1:] for r in wb["服务机构经费账"].iter_rows(min_row=2, values_only=True)}
    [canglang] = [v for k, v in books.items() if "沧浪" in k]
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in canglang] == [
        Decimal("0.00"), Decimal("200.00"), Decimal("160.25"), Decimal("39.75")]
    printed = city.get(f"/fees/report/print{query}")
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    text = pdf_text(printed.data)
    for expected in ("社会化管理服务费收支期间报表", "财政专户（收支两条线）", "收入合计300.00",
                     "支出合计200.00", "期末余额100.00", "200.00160.2539.75"):
        assert expected in text, (expected, text)
    district = load_workbook(BytesIO(spent.get(f"/fees/report/export{query}").data))
    assert district.sheetnames == ["服务机构经费账"]  # a district: books only
    assert "财政专户" not in pdf_text(spent.get(f"/fees/report/print{query}").data)
    page = city.get(f"/fees/report/{query}").get_data(as_text=True)
    assert "导出（Excel）" in page and "打印" in page
