"""A36: hardship instalment plans — the schedule rules, the recorded steps by the right
offices, payments counting towards instalments, overdue instalments flagged."""
import re
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RuleViolations
from plugins.fees.instalments import build_lines, generate_schedule, validate_schedule
from plugins.fees.tests.conftest import ACTIVE

START = date(2025, 1, 1)


def _messages(total, amounts) -> str:
    return " ".join(v.message for v in validate_schedule(
        Decimal(total), [Decimal(a) for a in amounts]))


def test_A36_year_one_at_least_half():
    assert _messages("10000.00", ["5000.00", "3000.00", "2000.00"]) == ""
    message = _messages("10000.00", ["4999.99", "3000.01", "2000.00"])
    assert "第一年缴费不得少于应缴总额的50%" in message
    assert "第一年至少5,000.00元，计划为4,999.99元" in message
    assert percent_rounds_up() == Decimal("300.01")  # half of 600.01, never short of it


def percent_rounds_up():
    return generate_schedule(Decimal("600.01"), 3, START)[0].amount


def test_A36_year_two_at_least_30_percent_or_rest():
    message = _messages("10000.00", ["5000.00", "2999.99", "2000.01"])
    assert "第二年缴费不得少于应缴总额的30%" in message and "第二年至少3,000.00元" in message
    # Less than 30 % remains after year 1: year 2 must pay all of it.
    assert _messages("10000.00", ["8000.00", "2000.00"]) == ""
    short = _messages("10000.00", ["8000.00", "1999.00", "1.00"])
    assert "余额不足30%的须全部缴清" in short and "第二年至少2,000.00元" in short


def test_A36_year_three_is_the_rest():
    assert "第三年缴清余款：各年合计9,999.00元，须等于应缴总额10,000.00元" in \
        _messages("10000.00", ["5000.00", "3000.00", "1999.00"])
    assert "第三年缴清余款" in _messages("10000.00", ["5000.00", "3000.00", "2001.00"])


def test_A36_at_most_three_years():
    assert "分期缴费最长不超过三年：计划分4年" in \
        _messages("10000.00", ["5000.00", "3000.00", "1000.00", "1000.00"])
    with pytest.raises(RuleViolations) as refused:
        build_lines(Decimal("10000.00"), 4, START, None)
    assert "分期缴费最长不超过三年：申请为4年" in str(refused.value)
    lines = build_lines(Decimal("10000.00"), 3, START, None)
    assert [ln.due_on for ln in lines] == [date(2025, 12, 31), date(2026, 12, 31),
                                           date(2027, 12, 31)]


@settings(max_examples=300, deadline=None)
@given(fen=st.integers(min_value=1, max_value=10**13), years=st.integers(1, 3))
def test_A36_generated_schedule_always_meets_the_rules(fen, years):
    total = Decimal(fen) / 100
    lines = generate_schedule(total, years, START)
    amounts = [ln.amount for ln in lines]
    assert validate_schedule(total, amounts) == []
    assert sum(amounts) == total and len(lines) <= years
    assert all(a == a.quantize(Decimal("0.01")) for a in amounts)


def test_A36_generated_schedule_for_a_typical_assessment():
    amounts = [ln.amount for ln in generate_schedule(Decimal("1800.00"), 3, START)]
    assert amounts == [Decimal("900.00"), Decimal("540.00"), Decimal("360.00")]


def test_A36_plan_breaking_a_rule_is_refused_with_its_name(owing, apply_plan):
    owing(3)
    response = apply_plan(amounts=["800.00", "600.00", "400.00"])
    assert response.status_code == 422
    assert "第一年缴费不得少于应缴总额的50%" in str(response.json["message"])
    assert apply_plan(years=4).status_code == 422


def test_A36_application_needs_the_written_document_and_an_industry_authority(
        app, owing, apply_plan):
    owing(2)
    response = apply_plan(document_base64="", document_name="")
    assert response.status_code == 422
    assert "书面申请" in str(response.json["message"]["document"])
    from core.extensions import db
    from core.registry.models import Enterprise

    with app.app_context():
        db.session.query(Enterprise).filter_by(unit_no=ACTIVE).update(
            {"industry_authority": None})
        db.session.commit()
    response = apply_plan()
    assert response.status_code == 422
    assert "须由行业主管部门提出书面申请" in str(response.json["message"]["enterprise"])


def _step(client, pk, action, **extra):
    return client.post(f"/api/v1/instalment_plan/{pk}/transition", json={"action": action,
                                                                         **extra})


def test_A36_plan_steps_are_recorded_state_changes_by_the_right_roles(
        owing, apply_plan, client_for, labour):
    owing(3)
    applied = apply_plan()
    assert applied.status_code == 201, applied.json
    pk = applied.json["id"]
    assert applied.json["result"]["total"] == "1800.00"
    assert applied.json["result"]["state"] == "applied"
    admin, city = client_for(labour), client_for("city")
    # Each step by its office, in order; the wrong role or order changes nothing.
    assert _step(admin, pk, "review").status_code == 422
    assert _step(city, pk, "approve", approval_no="苏劳〔2025〕1号").status_code == 422
    assert _step(city, pk, "review", note="材料齐全").status_code == 200
    wrong = _step(city, pk, "approve", approval_no="苏劳〔2025〕1号")
    assert wrong.status_code == 422 and "市劳动保障部门" in str(wrong.json["message"])
    assert _step(admin, pk, "approve").status_code == 422  # no approval number
    assert _step(admin, pk, "approve", approval_no="苏劳〔2025〕1号").status_code == 200
    assert _step(city, pk, "sign").status_code == 422  # no agreement number, no date
    signed = _step(city, pk, "sign", agreement_no="FQ-2025-001",
                   signed_on=date.today().isoformat())
    assert signed.status_code == 200, signed.json
    result = signed.json["result"]
    assert result["state"] == "signed"
    assert [(t["from"], t["to"], t["actor"], t["acting_for"]) for t in result["transitions"]] == [
        (None, "applied", "city", "市退管中心（经市纺织工业局提出）"),
        ("applied", "reviewed", "city", "市退管中心"),
        ("reviewed", "approved", "labour", "市劳动保障部门"),
        ("approved", "signed", "city", "市退管中心")]
    assert [i["amount"] for i in result["instalments"]] == ["900.00", "540.00", "360.00"]
    assert _step(city, pk, "review").status_code == 422  # no way back
    page = city.get(f"/fees/plans/show/{pk}").get_data(as_text=True)
    assert "市劳动保障部门" in page and "FQ-2025-001" in page
    assert apply_plan().status_code == 422  # one open plan per enterprise


def test_A36_application_can_be_rejected_with_a_reason(owing, apply_plan, client_for):
    owing(2)
    pk = apply_plan().json["id"]
    city = client_for("city")
    assert _step(city, pk, "reject").status_code == 422
    rejected = _step(city, pk, "reject", note="未附企业困难情况说明")
    assert rejected.status_code == 200 and rejected.json["state"] == "rejected"
    assert apply_plan().status_code == 201  # may apply again


def test_A36_plan_screens(owing, client_for, enterprise_id):
    owing(2)
    city = client_for("city")
    from io import BytesIO

    response = city.post("/fees/plans/apply", data={
        "enterprise": str(enterprise_id(ACTIVE)), "years": "2",
        "start_on": date.today().isoformat(), "application_no": "",
        "note": "", "document": (BytesIO("书面申请".encode()), "申请.txt")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    show = response.headers["Location"]
    pk = int(show.rstrip("/").split("/")[-1])
    assert "已申请" in city.get(show).get_data(as_text=True)
    assert city.post(f"/fees/plans/step/{pk}/review", data={"note": "同意"}).status_code == 302
    refused = client_for("city").post(f"/fees/plans/step/{pk}/approve",
                                      data={"approval_no": "x", "note": ""},
                                      follow_redirects=True).get_data(as_text=True)
    assert "市劳动保障部门" in refused
    document = city.get(f"/fees/plans/document/{pk}")
    assert document.data == "书面申请".encode()
    assert document.headers["Content-Disposition"] == (  # issue 14 item 7
        f'attachment; filename="instalment-application-{pk}.txt"; '
        f"filename*=UTF-8''{quote('申请.txt')}")


def _signed_plan(app, owing, apply_plan, client_for, start_on, labour):
    owing(2)
    pk = apply_plan(start_on=start_on.isoformat()).json["id"]
    city, admin = client_for("city"), client_for(labour)
    assert _step(city, pk, "review").status_code == 200
    assert _step(admin, pk, "approve", approval_no="苏劳〔2025〕2号").status_code == 200
    assert _step(city, pk, "sign", agreement_no="FQ-1",
                 signed_on=start_on.isoformat()).status_code == 200
    return pk


def test_A36_overdue_instalment_flagged(app, owing, apply_plan, client_for, pay, labour):
    start = date.today() - timedelta(days=400)  # year 1 ended a month ago
    pk = _signed_plan(app, owing, apply_plan, client_for, start, labour)
    city = client_for("city")
    schedule = city.get(f"/api/v1/instalment_plan/{pk}/schedule").json["result"]
    assert [i["overdue"] for i in schedule["instalments"]] == [True, False, False]
    overdue = city.get("/api/v1/instalment_plan/overdue").json
    assert overdue["count"] == 1 and overdue["result"][0]["outstanding"] == "600.00"
    cli = app.test_cli_runner().invoke(args=["fees", "overdue"])
    assert "第1期" in cli.output and "逾期" in cli.output
    assert "逾期" in city.get("/fees/instalments/list/").get_data(as_text=True)
    from core.charts import ChartFilters
    from plugins.fees.chart_data import instalment_compliance

    with app.app_context():
        from core.extensions import db

        assert instalment_compliance(db.session, ChartFilters()).series[0]["data"] == [0, 1, 2]
    assert pay("600.00").status_code == 201
    schedule = city.get(f"/api/v1/instalment_plan/{pk}/schedule").json["result"]
    assert [i["overdue"] for i in schedule["instalments"]] == [False, False, False]
    assert city.get("/api/v1/instalment_plan/overdue").json["count"] == 0


def test_A36_payments_count_towards_instalments_until_the_plan_is_completed(
        app, owing, apply_plan, client_for, pay, labour):
    pk = _signed_plan(app, owing, apply_plan, client_for, date.today(), labour)
    city = client_for("city")
    assert pay("700.00").status_code == 201
    result = city.get(f"/api/v1/instalment_plan/{pk}/schedule").json["result"]
    assert [i["paid_amount"] for i in result["instalments"]] == ["600.00", "100.00", "0.00"]
    assert pay("500.00").status_code == 201
    result = city.get(f"/api/v1/instalment_plan/{pk}/schedule").json["result"]
    assert result["state"] == "completed"
    assert result["transitions"][-1]["to"] == "completed"


def test_A36_schedule_preview(client_for, enable):
    enable()
    response = client_for("city").post("/api/v1/instalment_plan/schedule", json={
        "total": "600.01", "years": 3, "start_on": "2025-01-01"})
    assert response.status_code == 200, response.json
    assert [ln["amount"] for ln in response.json["result"]] == ["300.01", "180.01", "119.99"]


def test_A36_signed_agreement_prints(app, owing, apply_plan, client_for, labour, pdf_text):
    """Issue 14 item 19: the signed 分期缴费协议 prints with parties, approval, schedule,
    total and the stamp spaces; before signing it is not offered."""
    owing(2)
    pk = apply_plan(start_on=date.today().isoformat()).json["id"]
    city = client_for("city")
    unsigned = city.get(f"/fees/plans/agreement/{pk}", follow_redirects=True)
    assert "该分期计划尚未签订协议" in unsigned.get_data(as_text=True)
    assert "打印分期缴费协议" not in city.get(f"/fees/plans/show/{pk}").get_data(as_text=True)
    assert _step(city, pk, "review").status_code == 200
    assert _step(client_for(labour), pk, "approve", approval_no="苏劳〔2025〕2号").status_code == 200
    assert _step(city, pk, "sign", agreement_no="FQ-7",
                 signed_on=date.today().isoformat()).status_code == 200
    assert "打印分期缴费协议" in city.get(f"/fees/plans/show/{pk}").get_data(as_text=True)
    printed = city.get(f"/fees/plans/agreement/{pk}")
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert printed.headers["Content-Disposition"] == (
        f'inline; filename="instalment-agreement-{pk}.pdf"; '
        f"filename*=UTF-8''{quote('分期缴费协议-FQ-7.pdf')}")
    text = pdf_text(printed.data)
    for expected in ("企业退休人员社会化管理服务费分期缴费协议", "协议编号：FQ-7", "甲方：苏州第一纺织厂",
                     "苏劳〔2025〕2号", "第1年", "600.00", "合计1,200.00", "甲方（盖章）：",
                     "乙方（盖章）："):
        assert expected in text, (expected, text)


def test_A36_uploaded_application_kept_across_a_failed_submit(owing, client_for,
                                                              enterprise_id):
    """Issue 14 item 19: a refused application keeps its uploaded file; the next submit
    without choosing it again records the plan with that file, and the token is then
    used up."""
    from io import BytesIO

    owing(2)
    city = client_for("city")
    form = {"enterprise": str(enterprise_id(ACTIVE)), "years": "3",
            "start_on": date.today().isoformat(),
            "amount_1": "100", "amount_2": "100", "amount_3": "1000",
            "application_no": "", "note": ""}
    refused = city.post("/fees/plans/apply", data={
        **form, "document": (BytesIO("困难申请".encode()), "困难申请.txt")},
        content_type="multipart/form-data")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "50%" in page  # first year below half: refused
    assert "已上传：困难申请.txt" in page
    [token] = re.findall(r'<input[^>]*name="kept_document"[^>]*value="([^"]+)"', page)
    assert city.get("/api/v1/instalment_plan/").json["count"] == 0
    done = city.post("/fees/plans/apply", data={**form, **BLANK_YEARS, "kept_document": token},
                     content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]
    pk = int(done.headers["Location"].rstrip("/").split("/")[-1])
    assert city.get(f"/fees/plans/document/{pk}").data == "困难申请".encode()
    again = city.post("/fees/plans/apply", data={**form, **BLANK_YEARS, "kept_document": token},
                      content_type="multipart/form-data")  # used up: no file now
    assert again.status_code == 200 and "已上传" not in again.get_data(as_text=True)


BLANK_YEARS = {"amount_1": "", "amount_2": "", "amount_3": ""}


def test_A36_yearly_amounts_in_three_boxes_with_errors_beside_them(owing, client_for,
                                                                  enterprise_id):
    """Issue 14 item 19: one box a year, a refusal under the year's box it is about, a
    missing year's box named, a box past the plan's years refused, and the live share
    hints on the page; nothing recorded until the schedule keeps the rules."""
    from io import BytesIO

    owing(2)  # 1,200 yuan owed
    city = client_for("city")
    form = {"enterprise": str(enterprise_id(ACTIVE)), "start_on": date.today().isoformat(),
            "application_no": "", "note": ""}

    def errors_beside(page: str) -> dict[str, list[str]]:
        found = {}
        for n in (1, 2, 3):
            block = page.split(f'id="amount_{n}"', 1)[1].split('class="form-group"', 1)[0]
            found[n] = re.findall(r'<p class="text-danger">([^<]+)</p>', block)
        return found

    def post(years: str, *amounts: str):
        return city.post("/fees/plans/apply", content_type="multipart/form-data", data={
            **form, "years": years, **dict(zip(("amount_1", "amount_2", "amount_3"),
                                               amounts, strict=False)),
            "document": (BytesIO("申请".encode()), "申请.txt")})

    page = city.get("/fees/plans/apply").get_data(as_text=True)
    assert all(f'id="amount_{n}"' in page for n in (1, 2, 3)) and "ra-share" in page
    low = post("3", "500", "500", "200").get_data(as_text=True)
    beside = errors_beside(low)
    assert any("第一年缴费不得少于应缴总额的50%" in e for e in beside[1]), beside
    assert not beside[2] and not beside[3]
    second = errors_beside(post("3", "700", "100", "400").get_data(as_text=True))
    assert any("第二年缴费不得少于应缴总额的30%" in e for e in second[2]), second
    missing = errors_beside(post("3", "700", "", "140").get_data(as_text=True))
    assert missing[2] == ["请填写第二年的缴费金额"], missing
    past = errors_beside(post("2", "700", "500", "1").get_data(as_text=True))
    assert past[3] == ["分期2年，第三年不填"], past
    assert city.get("/api/v1/instalment_plan/").json["count"] == 0
    done = post("2", "700", "500")
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    plan = city.get("/api/v1/instalment_plan/").json["result"][0]
    assert plan["years"] == 2


def test_A36_kept_upload_only_for_its_uploader(app):
    """Issue 14 item 19: the kept file is read back only by the user who uploaded it and
    only through a well-formed token (no path in the form reaches the disk)."""
    from plugins.fees import uploads

    with app.app_context():
        token = uploads.keep("申请".encode(), "申请.txt", "text/plain", "city")
        assert uploads.kept(token, "d_cl") is None
        assert uploads.kept(token, "city") == ("申请".encode(), "申请.txt", "text/plain")
        assert uploads.kept("../" + token[3:], "city") is None
        uploads.drop(token)
        assert uploads.kept(token, "city") is None
