"""A35: the fee due per retiree, when it is raised, and the enterprise's assessment;
the per-district switch (the rule applies only where the plugin is enabled)."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from plugins.fees.tests.conftest import (
    ACTIVE,
    CANGLANG,
    CL_COMMUNITY,
    NEW_RETIREMENT,
    PINGJIANG,
    PJ_COMMUNITY,
)


def test_A35_new_retiree_fee_is_120_yuan_for_5_years_due_at_retirement(
        enable, create_retiree, dues_of):
    enable(CANGLANG)
    pk = create_retiree(1, CL_COMMUNITY, retirement_date=NEW_RETIREMENT.isoformat())
    assert dues_of() == {pk: ("registration", Decimal("120.00"), 5, Decimal("600.00"),
                              Decimal("0.00"), NEW_RETIREMENT)}


def test_A35_A43_retired_before_the_rules_in_force_pays_at_archive_transfer(
        enable, create_retiree, accept, dues_of):
    enable(CANGLANG)
    pk = create_retiree(1, CL_COMMUNITY)  # retired 2010
    assert dues_of() == {}
    accept(pk, "2025-01-02")
    assert dues_of() == {pk: ("archive", Decimal("120.00"), 5, Decimal("600.00"),
                              Decimal("0.00"), date(2025, 1, 2))}


def test_A35_fee_is_never_raised_twice(enable, create_retiree, accept, dues_of, session_of):
    enable(CANGLANG)
    pk = create_retiree(1, CL_COMMUNITY, retirement_date=NEW_RETIREMENT.isoformat())
    accept(pk)
    assert len(dues_of()) == 1 and dues_of()[pk][0] == "registration"

    def again(session):
        from core.registry.models import Retiree
        from plugins.fees.assessment import raise_due

        return raise_due(session, session.get(Retiree, pk), "archive")
    assert session_of(again) is None


def test_A35_rate_and_years_are_configurable(app_factory, client_for, retiree_payload,
                                              enable, dues_of):
    from core.extensions import db
    from core.regions import region_by_code

    app = app_factory(FEES_RATE="130.50", FEES_YEARS=3)
    with app.app_context():
        app.extensions["retiree_admin.plugins"].set_enabled(
            db.session, "fees", region_by_code(db.session, CANGLANG), True, "test")
    admin = client_for("admin", app)
    response = admin.post("/api/v1/retiree/", json=retiree_payload(
        1, CL_COMMUNITY, retirement_date=NEW_RETIREMENT.isoformat()))
    assert response.status_code == 201, response.json
    with app.app_context():
        from plugins.fees.models import FeeDue

        due = db.session.scalar(select(FeeDue))
        assert (due.rate, due.years, due.amount) == (Decimal("130.50"), 3, Decimal("391.50"))


def test_A35_fee_schedule_hook_answers_for_the_district(app, session_of, create_retiree,
                                                        enable):
    enable(CANGLANG)
    cl = create_retiree(1, CL_COMMUNITY)
    pj = create_retiree(2, PJ_COMMUNITY)

    def schedules(session):
        from core.registry.models import Retiree

        plugins = app.extensions["retiree_admin.plugins"]
        out = []
        for pk in (cl, pj):
            r = session.get(Retiree, pk)
            out.append(plugins.hook_for(r.region_path, session).fee_schedule(retiree=r))
        return out
    assert schedules and session_of(schedules) == [
        {"rate": Decimal("120.00"), "years": 5, "total": Decimal("600.00")}, None]


def test_A35_self_employed_retiree_has_no_enterprise_to_assess(
        enable, create_retiree, accept, enterprise_id, dues_of):
    enable(CANGLANG)
    pk = create_retiree(1, CL_COMMUNITY, category="self_employed", employer=None,
                        custodian_agency=enterprise_id("JY001"))
    accept(pk)
    assert dues_of() == {}


def test_A35_enterprise_assessment_sums_its_retirees(owing, client_for):
    owing(3)
    rows = client_for("city").get("/api/v1/fee_balance/").json["result"]
    assert [(r["unit_no"], r["retirees"], r["assessed"], r["paid"], r["outstanding"])
            for r in rows] == [(ACTIVE, 3, "1800.00", "0.00", "1800.00")]


def test_A35_rule_applies_only_in_the_enabled_district(enable, create_retiree, accept,
                                                       dues_of):
    """On in 沧浪区 only: an archive accepted there raises the fee; one in 平江区 does
    not. Switched off again, 沧浪区 raises no more; switched on in 平江区, it does."""
    enable(CANGLANG)
    cl1 = create_retiree(1, CL_COMMUNITY)
    pj1 = create_retiree(2, PJ_COMMUNITY)
    accept(cl1)
    accept(pj1)
    assert set(dues_of()) == {cl1}
    enable(CANGLANG, False)
    cl2 = create_retiree(3, CL_COMMUNITY)
    accept(cl2)
    assert set(dues_of()) == {cl1}
    enable(PINGJIANG)
    pj2 = create_retiree(4, PJ_COMMUNITY)
    accept(pj2)
    assert set(dues_of()) == {cl1, pj2}


def test_A35_assess_backlog_after_enabling(app, enable, create_retiree, accept, dues_of):
    """Enabled later: ``retiree-admin fees assess`` raises what is missing, once."""
    cl = create_retiree(1, CL_COMMUNITY)
    accept(cl)
    new = create_retiree(2, CL_COMMUNITY, retirement_date=NEW_RETIREMENT.isoformat())
    create_retiree(3, CL_COMMUNITY)  # earlier retiree, archive not yet transferred
    assert dues_of() == {}
    enable(CANGLANG)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fees", "assess"])
    assert result.exit_code == 0, result.output
    assert "新核定服务费 2 人" in result.output
    assert set(dues_of()) == {cl, new}
    assert "新核定服务费 0 人" in runner.invoke(args=["fees", "assess"]).output
