"""The fee API refuses bad input with a Chinese answer and writes nothing: a body that is
not a JSON object 400; a mistyped field, text too long for its column, an id or an
amount beyond its column's range, a due date past year 9999, 422 naming the field."""
from datetime import date

from plugins.fees.tests.conftest import ACTIVE

TODAY = date.today().isoformat()
BEYOND = 99999999999999999999  # no INTEGER id, no NUMERIC(14, 2) amount, no SQLite integer


def test_not_a_json_object_is_400(client_for, enable):
    enable("320500")
    city = client_for("city")
    for path in ("/api/v1/fee_payment/", "/api/v1/instalment_plan/1/transition",
                 "/api/v1/instalment_plan/schedule", "/api/v1/fund_income/",
                 "/api/v1/fund_allocation/", "/api/v1/fund_allocation/1/check",
                 "/api/v1/fund_book/expense"):
        for body in ({"data": "amount=600"}, {"json": [1]}, {}):
            answer = city.post(path, **body)
            assert answer.status_code == 400, (path, body)
            assert answer.json == {"message": "请求内容须为JSON对象"}


def test_wrong_types_and_ranges_are_422_per_field(owing, client_for, enterprise_id, pay,
                                                  apply_plan):
    owing(1)
    city, unit = client_for("city"), enterprise_id(ACTIVE)
    cases = [
        ("/api/v1/fee_payment/", {"enterprise": BEYOND, "amount": "1", "paid_on": TODAY},
         "enterprise", "不存在"),
        ("/api/v1/fee_payment/", {"enterprise": "²", "amount": "1", "paid_on": TODAY},
         "enterprise", "请填写编号"),
        ("/api/v1/fee_payment/", {"enterprise": unit, "amount": "1", "paid_on": TODAY,
                                  "method": ["cash"]}, "method", "须为文本"),
        ("/api/v1/fee_payment/", {"enterprise": unit, "amount": "1", "paid_on": 20250101},
         "paid_on", "日期格式"),
        ("/api/v1/fund_income/", {"source": "donation", "amount": "1e30", "received_on": TODAY,
                                  "from_name": "x"}, "amount", "金额超出范围"),
        ("/api/v1/fund_income/", {"source": "donation", "amount": "1", "received_on": TODAY,
                                  "from_name": 5}, "from_name", "须为文本"),
        ("/api/v1/fund_income/", {"source": "donation", "amount": "1", "received_on": TODAY,
                                  "from_name": "x", "note": "备" * 201}, "note", "最多200个字符"),
        ("/api/v1/fund_income/", {"source": "donation", "amount": "1", "received_on": TODAY,
                                  "from_name": "\ud800"}, "from_name", "无法识别的字符"),
        ("/api/v1/instalment_plan/schedule", {"total": "600", "start_on": "9999-06-01"},
         "start_on", "超出日期范围"),
        ("/api/v1/instalment_plan/schedule", {"total": "600", "start_on": TODAY, "amounts": 600},
         "amounts", "列表"),
        ("/api/v1/instalment_plan/schedule", {"total": "600", "start_on": TODAY, "years": 2.5},
         "years", "整数"),
        ("/api/v1/instalment_plan/", {"enterprise": unit, "start_on": TODAY,
                                      "document_name": "a.pdf", "document_base64": 5},
         "document_base64", "须为文本"),
    ]
    for path, body, field, text in cases:
        answer = city.post(path, json=body)
        assert answer.status_code == 422, (body, answer.json)
        assert text in " ".join(answer.json["message"][field]), (body, answer.json)
    assert city.get(f"/api/v1/fee_payment/{BEYOND}/receipt").status_code == 404
    assert city.get(f"/api/v1/instalment_plan/{BEYOND}/schedule").status_code == 404
    pk = apply_plan().json["id"]
    note = city.post(f"/api/v1/instalment_plan/{pk}/transition",
                     json={"action": "review", "note": ["ok"]})
    assert note.status_code == 422 and note.json["message"] == {"note": ["须为文本"]}
    assert city.get(f"/api/v1/instalment_plan/{pk}/schedule").json["result"]["state"] == \
        "applied"
    assert city.get("/api/v1/fund_income/").json["count"] == 0
