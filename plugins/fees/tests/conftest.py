"""Fixtures of the fee plugin's tests (core.testing's come with the root conftest)."""
from __future__ import annotations

import base64
import re
import shutil
from datetime import date

import pytest
from sqlalchemy import select

from core.testing import PASSWORD, missing, run

CANGLANG, PINGJIANG = "320502", "320503"
CL_COMMUNITY, PJ_COMMUNITY = "320502001001", "320503001001"
ACTIVE, BANKRUPT = "320500001", "320500002"
NEW_RETIREMENT = date(2025, 3, 1)  # on/after A43's 2024-12-01: a new retiree
DOCUMENT = base64.b64encode("关于分期缴纳社会化管理服务费的申请".encode()).decode()


@pytest.fixture
def enable(app):
    """Switch the plugin on or off for one district (or the city)."""

    def switch(code: str = CANGLANG, on: bool = True):
        from core.extensions import db
        from core.regions import region_by_code

        with app.app_context():
            app.extensions["retiree_admin.plugins"].set_enabled(
                db.session, "fees", region_by_code(db.session, code), on, "test")
    return switch


@pytest.fixture
def session_of(app):
    """Run ``fn(session)`` in an app context, unscoped (the CLI's view of the data)."""

    def run(fn):
        from core.extensions import db

        with app.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.remove()
    return run


@pytest.fixture
def accept(client_for):
    def accept_archive(pk: int, on: str = "2025-01-02"):
        response = client_for("admin").post(f"/retiree/archive/{pk}", data={"accepted_on": on})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return accept_archive


@pytest.fixture
def dues_of(session_of):
    """{retiree id: FeeDue} as plain tuples."""

    def read():
        from plugins.fees.models import FeeDue

        return session_of(lambda s: {d.retiree_id: (d.trigger, d.rate, d.years, d.amount,
                                                    d.paid_amount, d.due_on)
                                     for d in s.execute(select(FeeDue)).scalars()})
    return read


@pytest.fixture
def owing(enable, create_retiree, accept, enterprise_id):
    """``n`` earlier retirees of an enterprise in 沧浪区 (plugin on), archives accepted:
    the enterprise owes n × 600 yuan. Returns the retiree ids."""

    def make(n: int = 2, unit_no: str = ACTIVE, start: int = 1) -> list[int]:
        enable(CANGLANG)
        ids = []
        for i in range(start, start + n):
            pk = create_retiree(i, CL_COMMUNITY, employer=enterprise_id(unit_no))
            accept(pk)
            ids.append(pk)
        return ids
    return make


@pytest.fixture
def pay(client_for, enterprise_id):
    def record(amount: str, unit_no: str = ACTIVE, user: str = "city", **extra):
        payload = {"enterprise": enterprise_id(unit_no), "amount": amount,
                   "paid_on": date.today().isoformat(), **extra}
        return client_for(user).post("/api/v1/fee_payment/", json=payload)
    return record


@pytest.fixture
def apply_plan(client_for, enterprise_id):
    def apply(unit_no: str = ACTIVE, user: str = "city", **extra):
        payload = {"enterprise": enterprise_id(unit_no), "years": 3,
                   "start_on": date.today().isoformat(), "document_name": "申请.pdf",
                   "document_base64": DOCUMENT, "application_no": "市纺工〔2025〕8号", **extra}
        return client_for(user).post("/api/v1/instalment_plan/", json=payload)
    return apply


@pytest.fixture
def extra_user(app):
    """Create another user (e.g. the labour or finance office)."""

    def make(username: str, role: str, region_code: str = "320500") -> str:
        from core.commands import create_user
        from core.extensions import db

        with app.app_context():
            user = create_user(username, PASSWORD, role, region_code)
            if getattr(user, "must_change_password", False):  # a test user, not a first login
                user.must_change_password = False
                db.session.commit()
        return username
    return make


@pytest.fixture
def pdf_text(tmp_path):
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext missing: apt-get install -y poppler-utils")

    def read(pdf: bytes) -> str:
        src = tmp_path / "receipt.pdf"
        src.write_bytes(pdf)
        out = run([exe, "-raw", "-enc", "UTF-8", str(src), "-"], check=True,
                  capture_output=True, seconds=60,
                  waiting_for="pdftotext to read the receipt").stdout.decode("utf-8")
        return re.sub(r"\s+", "", out)
    return read


@pytest.fixture
def labour(extra_user):
    """The city labour department's approver (issue 14 item 18: its own role)."""
    return extra_user("labour", "labour_approver")


@pytest.fixture
def finance(extra_user):
    """The finance department's checker (its own role, another person, A39)."""
    return extra_user("fin", "finance_checker")
