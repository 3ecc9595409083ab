"""Issue 14 item 18, A36, A39: the labour department's approvals and the finance
department's check are roles of their own (市人社局审批, 市财政局核拨), contributed by
the plugin — not the IT system administrator's."""
from plugins.fees.tests.conftest import CANGLANG


def test_A36_plan_approval_refused_for_admin_allowed_for_labour_approver(
        owing, apply_plan, client_for, labour):
    owing(1)
    pk = apply_plan().json["id"]
    step = f"/api/v1/instalment_plan/{pk}/transition"
    assert client_for("city").post(step, json={"action": "review"}).status_code == 200
    refused = client_for("admin").post(step, json={"action": "approve", "approval_no": "1"})
    assert refused.status_code in (403, 422)
    if refused.status_code == 422:
        assert "市人社局审批" in str(refused.json) and "labour_approver" not in str(refused.json)
    approved = client_for(labour).post(step, json={"action": "approve", "approval_no": "苏劳1号"})
    assert approved.status_code == 200, approved.json
    assert approved.json["result"]["state"] == "approved"


def test_A39_allocation_approved_by_labour_checked_by_finance_not_admin(
        client_for, enable, region_id, labour, finance):
    enable(CANGLANG)
    pk = client_for("d_cl").post("/api/v1/fund_allocation/", json={
        "organisation": region_id(CANGLANG), "purpose": "visits", "amount": "1.00",
        "need": "走访"}).json["id"]
    approve = f"/api/v1/fund_allocation/{pk}/approve"
    assert client_for("admin").post(approve, json={"approval_no": "1"}).status_code in (403, 422)
    assert client_for(finance).post(approve, json={"approval_no": "1"}).status_code in (403, 422)
    assert client_for(labour).post(approve, json={"approval_no": "1"}).status_code == 200
    check = f"/api/v1/fund_allocation/{pk}/check"
    assert client_for("admin").post(check, json={}).status_code in (403, 422)
    assert client_for(labour).post(check, json={}).status_code in (403, 422)


def test_labour_approver_sees_the_plans_not_the_payments(client_for, labour, enable):
    enable(CANGLANG)
    approver = client_for(labour)
    assert approver.get("/fees/plans/list/").status_code == 200
    assert approver.get("/fees/allocations/list/").status_code == 200
    assert approver.get("/fees/payments/record").status_code in (302, 403)
    assert approver.get("/retiree/list/").status_code in (302, 403, 404)


def test_roles_and_demo_logins_come_from_the_plugin(app):
    """The plugin's roles, and the demo logins its RoleSpecs ask ``retiree-admin demo`` for
    (the demo run itself: tests/core/test_demo_data.py)."""
    from core.security import DEMO_LOGINS, ROLE_LEVELS, ROLE_TITLES

    assert ROLE_TITLES["labour_approver"] == "市人社局审批"
    assert ROLE_TITLES["finance_checker"] == "市财政局核拨"
    assert ROLE_LEVELS["labour_approver"] == ("city",)
    assert DEMO_LOGINS["labour_approver"] == "labour"
    assert DEMO_LOGINS["finance_checker"] == "finance"


def test_the_users_cli_grants_the_plugins_roles(app):
    """The plugin's roles are known to ``users grant`` and ``users roles`` (the codes are
    checked after the plugins register theirs, not fixed when the command is defined)."""
    runner = app.test_cli_runner()
    created = runner.invoke(args=["users", "create", "rsj", "--password", "Hv7#pLq2Ws9e",
                                  "--role", "labour_approver", "--region", "320500"])
    assert created.exit_code == 0, created.output
    assert "市人社局审批" in runner.invoke(args=["users", "roles"]).output
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="rsj")
        assert [r.name for r in user.roles] == ["labour_approver"]
