"""Issue 14 item 16: money stays exact and correctable — a doubled payment is caught
(same bank reference refused, same enterprise, amount and day confirmed), and a wrong
payment is reversed (冲正) with a reason: audited, a reversing entry in the fund ledger
(both entries stay), the receipt marked, balances recomputed to the fen."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from plugins.fees.tests.conftest import ACTIVE

TODAY = date.today().isoformat()


def test_A35_same_bank_reference_refused(owing, pay):
    owing(2)
    assert pay("100.00", reference="BK-1").status_code == 201
    again = pay("200.00", reference="BK-1")
    assert again.status_code == 422
    assert "银行流水号／票据号BK-1已登记过" in str(again.json["message"]["reference"])
    confirmed = pay("200.00", reference="BK-1", confirm_duplicate=True)
    assert confirmed.status_code == 422  # a reference is never confirmed away


def test_A35_same_enterprise_amount_and_day_asks_for_confirmation(owing, pay, session_of):
    owing(2)
    assert pay("300.00").status_code == 201
    doubled = pay("300.00")
    assert doubled.status_code == 422
    assert "确认不是重复登记" in str(doubled.json["message"]["confirm_duplicate"])
    assert pay("300.00", confirm_duplicate=True).status_code == 201

    def count(session):
        from plugins.fees.models import FeePayment

        return len(session.execute(select(FeePayment)).scalars().all())
    assert session_of(count) == 2


def test_A35_screen_shows_the_confirmation_box_only_when_doubled(owing, client_for,
                                                                  enterprise_id):
    owing(2)
    city = client_for("city")
    data = {"enterprise": str(enterprise_id(ACTIVE)), "amount": "150.00", "paid_on": TODAY,
            "funding_source": "", "method": "transfer", "reference": "", "note": ""}
    assert 'name="confirm_duplicate"' not in city.get("/fees/payments/record") \
        .get_data(as_text=True)
    assert city.post("/fees/payments/record", data=data).status_code == 302
    again = city.post("/fees/payments/record", data=data)
    page = again.get_data(as_text=True)
    assert again.status_code == 200
    assert 'name="confirm_duplicate"' in page and "确认不是重复登记" in page
    assert "请勾选“确认不是重复登记”后再提交" in page
    assert city.post("/fees/payments/record",
                     data={**data, "confirm_duplicate": "y"}).status_code == 302


def test_A38_reversal_keeps_both_ledger_entries_and_recomputes_balances(
        owing, pay, client_for, session_of, pdf_text):
    owing(2)
    assert pay("900.00").status_code == 201
    wrong = pay("0.01", reference="BK-WRONG")
    assert wrong.status_code == 201
    pk = wrong.json["id"]
    city = client_for("city")
    refused = city.post(f"/api/v1/fee_payment/{pk}/reverse", json={"reason": ""})
    assert refused.status_code == 422 and "请填写冲正原因" in str(refused.json["message"])
    done = city.post(f"/api/v1/fee_payment/{pk}/reverse", json={"reason": "金额录错"})
    assert done.status_code == 200, done.json
    again = city.post(f"/api/v1/fee_payment/{pk}/reverse", json={"reason": "再冲一次"})
    assert again.status_code == 422 and "不能重复冲正" in str(again.json["message"])
    [row] = city.get("/api/v1/fee_balance/").json["result"]
    assert (row["paid"], row["outstanding"]) == ("900.00", "300.00")

    def ledger(session):
        from core.audit.models import AuditEntry
        from plugins.fees.models import FeePayment, FundAccount, FundIncome, FundReversal

        incomes = sorted(session.execute(select(FundIncome.amount)).scalars())
        reversals = session.execute(select(FundReversal.amount, FundReversal.reason)).all()
        balance = session.scalar(select(FundAccount.balance))
        payment = session.get(FeePayment, pk)
        audit = session.execute(select(AuditEntry.actor, AuditEntry.detail).where(
            AuditEntry.action == "reverse", AuditEntry.object_type == "FeePayment",
            AuditEntry.object_id == str(pk))).all()
        return incomes, reversals, balance, payment.status_label, audit
    incomes, reversals, balance, status, audit = session_of(ledger)
    assert incomes == [Decimal("0.01"), Decimal("900.00")]
    assert reversals == [(Decimal("0.01"), "金额录错")]
    assert balance == Decimal("900.00") and status == "已冲正"
    assert len(audit) == 1 and audit[0][0] == "city" and "金额录错" in audit[0][1]
    # The reference of a reversed payment may be recorded again, rightly this time.
    assert pay("100.00", reference="BK-WRONG").status_code == 201
    receipt = pdf_text(city.get(f"/fees/payments/receipt/{pk}").data)
    assert "已冲正" in receipt and "金额录错" in receipt and "作废" in receipt
    report = city.get(f"/fees/report/?from=2000-01-01&to={TODAY}").get_data(as_text=True)
    assert "服务费冲正（退回）" in report and "-0.01" in report


def test_A35_reversal_only_by_the_role_that_records_payments(owing, pay, client_for):
    owing(1)
    pk = pay("600.00").json["id"]
    for user in ("admin", "d_cl"):
        response = client_for(user).post(f"/api/v1/fee_payment/{pk}/reverse",
                                         json={"reason": "错"})
        assert response.status_code in (403, 404, 422), user
        page = client_for(user).get(f"/fees/payments/show/{pk}").get_data(as_text=True)
        assert ">冲正<" not in page, user
    city = client_for("city")
    assert ">冲正<" in city.get(f"/fees/payments/show/{pk}").get_data(as_text=True)
    form = city.get(f"/fees/payments/reverse/{pk}").get_data(as_text=True)
    assert 'name="reason"' in form
    done = city.post(f"/fees/payments/reverse/{pk}", data={"reason": "单位录错"})
    assert done.status_code == 302
    show = city.get(f"/fees/payments/show/{pk}").get_data(as_text=True)
    assert "已冲正" in show and "单位录错" in show and ">冲正<" not in show


def test_A36_reversal_reopens_a_completed_plan(labour, owing, apply_plan, client_for, pay,
                                              session_of):
    owing(1)
    plan = apply_plan().json["id"]
    city, admin = client_for("city"), client_for(labour)
    for client, action, extra in ((city, "review", {}),
                                  (admin, "approve", {"approval_no": "苏劳〔2025〕2号"}),
                                  (city, "sign", {"agreement_no": "FQ-1",
                                                  "signed_on": TODAY})):
        response = client.post(f"/api/v1/instalment_plan/{plan}/transition",
                               json={"action": action, "note": "同意", **extra})
        assert response.status_code == 200, response.json
    pk = pay("600.00").json["id"]

    def state(session):
        from plugins.fees.models import InstalmentPlan

        p = session.get(InstalmentPlan, plan)
        return p.state, [i.paid_amount for i in p.instalments]
    assert session_of(state)[0] == "completed"
    assert city.post(f"/api/v1/fee_payment/{pk}/reverse",
                     json={"reason": "退票"}).status_code == 200
    plan_state, paid = session_of(state)
    assert plan_state == "signed" and set(paid) == {Decimal("0.00")}
