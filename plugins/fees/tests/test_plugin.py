"""The plugin in the platform: per-district switch (menus, screens, API), scoping,
charts through the hook, money helpers, and the migration branch."""
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.fees.money import percent_of, rmb_upper, to_money
from plugins.fees.tests.conftest import (
    ACTIVE,
    CANGLANG,
    CL_COMMUNITY,
    PINGJIANG,
    PJ_COMMUNITY,
)

MENU = "社会化管理服务费"


def test_menus_and_api_follow_the_switch_for_one_district(enable, client_for):
    d_cl, d_pj = client_for("d_cl"), client_for("d_pj")
    assert MENU not in d_cl.get("/").get_data(as_text=True)
    assert d_cl.get("/api/v1/fee_due/").status_code in (401, 403)
    assert client_for("city").get("/api/v1/fee_balance/").status_code in (401, 403)
    enable(CANGLANG)
    assert MENU in d_cl.get("/").get_data(as_text=True)
    assert d_cl.get("/api/v1/fee_due/").status_code == 200
    assert d_cl.get("/fees/dues/list/").status_code == 200
    # 平江区 stays off: no menu, no screens, API refused.
    assert MENU not in d_pj.get("/").get_data(as_text=True)
    assert d_pj.get("/api/v1/fee_due/").status_code in (401, 403)
    assert d_pj.get("/fees/dues/list/").status_code in (302, 403)
    # The city centre reaches the screens while the plugin is on anywhere below it.
    city = client_for("city")
    assert city.get("/api/v1/fee_balance/").status_code == 200
    assert city.get("/fees/balances/").status_code == 200
    enable(CANGLANG, False)
    assert MENU not in d_cl.get("/").get_data(as_text=True)
    assert city.get("/api/v1/fee_balance/").status_code in (401, 403)


def test_each_district_sees_only_its_own_retirees_dues(enable, create_retiree, accept,
                                                       client_for):
    enable(CANGLANG)
    enable(PINGJIANG)
    accept(create_retiree(1, CL_COMMUNITY))
    accept(create_retiree(2, PJ_COMMUNITY))

    def names(user):
        return sorted(r["retiree"]["name"] for r in
                      client_for(user).get("/api/v1/fee_due/").json["result"])
    assert names("d_cl") == ["张三"] and names("d_pj") == ["李四2"]
    assert names("c_cl11") == ["张三"] and names("city") == ["张三", "李四2"]
    balances = client_for("d_pj").get("/api/v1/fee_balance/").json["result"]
    assert [(b["unit_no"], b["assessed"]) for b in balances] == [(ACTIVE, "600.00")]


def test_payment_refused_outside_the_city_centre_and_by_supervisors(owing, pay):
    owing(1)
    assert pay("1.00", user="sup").status_code in (401, 403)
    assert pay("1.00", user="c_cl11").status_code == 422


def test_charts_through_the_hook(app, owing, pay, enable, create_retiree, accept):
    owing(2)
    enable(PINGJIANG)
    accept(create_retiree(20, PJ_COMMUNITY))
    assert pay("700.00").status_code == 201
    plugins = app.extensions["retiree_admin.plugins"]
    specs = {spec.key: spec for name, spec in plugins.contributions("charts") if name == "fees"}
    assert set(specs) == {"fees_collected_vs_due", "fees_instalment_compliance"}
    from core.charts import ChartFilters
    from core.extensions import db

    with app.app_context():
        data = specs["fees_collected_vs_due"].data(db.session, ChartFilters())
        assert data.categories == ["沧浪区", "平江区"]
        assert data.series == [{"name": "应缴（元）", "unit": "元", "data": [1200.0, 600.0]},
                               {"name": "已缴（元）", "unit": "元", "data": [700.0, 0.0]}]
        streets = specs["fees_collected_vs_due"].data(
            db.session, ChartFilters(region_path="/320500/320502/"))
        assert streets.categories == ["双塔街道"]  # one level down: the district's streets
        assert streets.series[0]["data"] == [1200.0]
        later = specs["fees_collected_vs_due"].data(
            db.session, ChartFilters(date_from=date(2020, 1, 1)))
        assert later.categories == []  # all retired in 2010
        compliance = specs["fees_instalment_compliance"].data(db.session, ChartFilters())
        assert compliance.categories == ["已缴清", "逾期未缴", "未到期"]


def test_money_is_exact_and_never_float():
    assert to_money("600") == Decimal("600.00")
    assert to_money(Decimal("0.1")) + to_money("0.2") == Decimal("0.30")
    for bad in (0.1, "0.001", "abc", "NaN", True, "1e30", "1000000000000.00"):
        with pytest.raises(ValueError):
            to_money(bad)
    assert percent_of(Decimal("600.01"), 50) == Decimal("300.01")
    assert percent_of(Decimal("1800.00"), 30) == Decimal("540.00")
    assert rmb_upper(Decimal("600.00")) == "陆佰元整"
    assert rmb_upper(Decimal("1005.30")) == "壹仟零伍元叁角"
    assert rmb_upper(Decimal("100000.00")) == "壹拾万元整"
    assert rmb_upper(Decimal("10005.07")) == "壹万零伍元零柒分"
    assert rmb_upper(Decimal("0.05")) == "伍分"
    assert rmb_upper(Decimal("120000000.00")) == "壹亿贰仟万元整"


def test_json_float_amount_refused(owing, client_for, enterprise_id):
    owing(1)
    response = client_for("city").post("/api/v1/fee_payment/", json={
        "enterprise": enterprise_id(ACTIVE), "amount": 600.0,
        "paid_on": date.today().isoformat()})
    assert response.status_code == 422 and "不接受浮点数" in str(response.json)


def test_migration_branch_creates_only_the_plugins_tables():
    folder = Path(__file__).resolve().parent.parent / "migrations"
    first, *later = sorted(folder.glob("*.py"))
    source = first.read_text("utf-8")
    assert "branch_labels = ('fees',)" in source and 'depends_on = ("0001_core",)' in source
    import re

    for revision in (first, *later):
        text = revision.read_text("utf-8")
        tables = re.findall(r"op\.(?:create_table|batch_alter_table)\('(\w+)'", text)
        assert tables and all(t.startswith("fee_") for t in tables), revision.name
    assert all("down_revision = 'fees_" in r.read_text("utf-8") for r in later)


def test_cli_commands_without_data(app, enable):
    runner = app.test_cli_runner()
    assert "没有欠费单位" in runner.invoke(args=["fees", "arrears"]).output
    assert "没有逾期的分期" in runner.invoke(args=["fees", "overdue"]).output
    bad = runner.invoke(args=["fees", "report", "--from", "2025-13-01"])
    assert bad.exit_code != 0 and "日期格式" in bad.output


def test_A32_due_follows_the_retiree_moved_to_another_district(enable, create_retiree, accept,
                                                              client_for, region_id):
    enable(CANGLANG)
    enable(PINGJIANG)
    pk = create_retiree(1, CL_COMMUNITY)
    accept(pk)
    moved = client_for("admin").post(f"/retiree/move/{pk}", data={
        "community": str(region_id(PJ_COMMUNITY)), "moved_on": "2025-02-01", "reason": "搬家"})
    assert moved.status_code == 302
    assert client_for("d_cl").get("/api/v1/fee_due/").json["count"] == 0
    assert client_for("d_pj").get("/api/v1/fee_due/").json["count"] == 1


def test_supervisors_read_balances_arrears_and_report_but_record_nothing(owing, client_for,
                                                                         pay):
    owing(1)
    sup = client_for("sup")
    for url in ("/fees/balances/", "/fees/balances/?arrears=1", "/fees/report/", "/fees/dues/list/",
                "/fees/payments/list/", "/fees/plans/list/"):
        assert sup.get(url).status_code == 200, url
    assert sup.get("/fees/payments/record").status_code in (302, 403)
    assert pay("1.00", user="sup").status_code in (401, 403)


def test_every_screen_renders_for_the_city_centre(owing, pay, apply_plan, client_for,
                                                  enterprise_id):
    owing(2)
    owing(1, "320500002", start=5)
    assert pay("100.00").status_code == 201
    assert apply_plan().status_code == 201
    city = client_for("city")
    for url in ("/fees/balances/", "/fees/balances/?arrears=1", "/fees/dues/list/", "/fees/payments/list/",
                "/fees/payments/show/1", "/fees/payments/record", "/fees/plans/list/",
                "/fees/plans/show/1", "/fees/plans/apply", "/fees/plans/step/1/review",
                "/fees/instalments/list/", "/fees/income/list/",
                "/fees/income/record", "/fees/allocations/list/", "/fees/allocations/request",
                "/fees/books/list/", "/fees/books/expense", "/fees/report/",
                "/fees/report/?from=bad"):
        response = city.get(url)
        assert response.status_code == 200, url
    dues = city.get(f"/fees/dues/list/?_flt_0_enterprise={ACTIVE}")  # by unit number
    page = dues.get_data(as_text=True)
    assert "张三" in page and "李四5" not in page
