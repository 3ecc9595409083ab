"""REST API of the fee plugin under ``/api/v1/`` (403 where the plugin is off).

Amounts go in and come out as decimal strings ("600.00"), never as JSON floats: a JSON
number with a fraction is refused. Refusals answer 422 with a Chinese message per field,
a write outside the user's region 403; nothing is written then.
"""
from __future__ import annotations

import base64
import binascii
from datetime import date

from flask import Response, request
from flask_appbuilder.api import BaseApi, expose, protect, safe
from sqlalchemy import select

from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.regions import Region
from core.registry.models import Enterprise
from core.views.base import ScopedModelRestApi, interface
from plugins.fees import fund, instalments, payments
from plugins.fees.access import current_actor
from plugins.fees.assessment import balances
from plugins.fees.models import (
    FeeDue,
    FeePayment,
    FundAccount,
    FundAllocation,
    FundBookEntry,
    FundIncome,
    InstalmentPlan,
)
from plugins.fees.receipts import receipt_data, receipt_pdf

READ = {"get", "get_list", "info"}


def _payload() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form.to_dict()


def _date(payload: dict, key: str, required: bool = True) -> date | None:
    value = payload.get(key)
    if value in (None, ""):
        if required:
            raise RuleViolations([RuleViolation("此项必填", key)])
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise RuleViolations([RuleViolation("日期格式应为 YYYY-MM-DD", key)]) from exc


def _money_in(payload: dict, key: str = "amount"):
    value = payload.get(key)
    if isinstance(value, float):
        raise RuleViolations([RuleViolation("金额请以字符串传送（如 \"600.00\"），不接受浮点数", key)])
    if value in (None, ""):
        raise RuleViolations([RuleViolation("此项必填", key)])
    return value


def _get(model, pk):
    row = db.session.get(model, pk)
    if row is None:
        raise LookupError
    return row


def _ref(model, payload: dict, key: str):
    value = payload.get(key)
    if isinstance(value, bool) or not str(value or "").isdigit():
        raise RuleViolations([RuleViolation("请填写编号（整数）", key)])
    row = db.session.get(model, int(value))
    if row is None:
        raise RuleViolations([RuleViolation(f"编号为{value}的记录不存在或不在本辖区内", key)])
    return row


def _answer(api, work, status: int = 200):
    """Run ``work`` (returning a dict), commit, answer; refusals roll back."""
    try:
        result = work()
        db.session.commit()
    except (RuleViolations, RuleViolation) as exc:
        db.session.rollback()
        if isinstance(exc, RuleViolation):
            exc = RuleViolations([exc])
        return api.response_422(message=exc.by_field())
    except ScopeViolation as exc:
        db.session.rollback()
        return api.response(403, message=exc.message)
    except LookupError:
        db.session.rollback()
        return api.response_404()
    return api.response(status, **result)


def _plan_json(plan: InstalmentPlan) -> dict:
    return {
        "id": plan.id, "enterprise": plan.enterprise_id, "state": plan.state,
        "total": str(plan.total), "years": plan.years, "start_on": plan.start_on.isoformat(),
        "submitted_via": plan.submitted_via, "approval_no": plan.approval_no,
        "agreement_no": plan.agreement_no,
        "signed_on": plan.signed_on.isoformat() if plan.signed_on else None,
        "instalments": [{"seq": i.seq, "due_on": i.due_on.isoformat(), "amount": str(i.amount),
                         "paid_amount": str(i.paid_amount), "overdue": i.overdue}
                        for i in plan.instalments],
        "transitions": [{"from": t.from_state, "to": t.to_state, "actor": t.actor,
                         "role": t.actor_role, "acting_for": t.acting_for,
                         "at": t.at.isoformat(timespec="seconds"), "note": t.note}
                        for t in plan.transitions],
    }


class FeeDueApi(ScopedModelRestApi):
    """``/api/v1/fee_due/``: each retiree's fee (A35), read-only."""

    resource_name = "fee_due"
    datamodel = interface(FeeDue)
    allow_browser_login = True
    include_route_methods = READ
    list_columns = ["id", "retiree.id", "retiree.name", "enterprise.id", "enterprise.name",
                    "trigger", "rate", "years", "amount", "paid_amount", "due_on"]
    show_columns = list_columns
    search_columns = ["enterprise", "trigger", "due_on"]
    base_order = ("id", "asc")


class FeeBalanceApi(BaseApi):
    """``/api/v1/fee_balance/``: per enterprise assessed, paid, outstanding and payer
    (A35, A36); ``?arrears=1`` for the arrears list."""

    resource_name = "fee_balance"
    allow_browser_login = True

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def get_list(self):
        rows = balances(db.session, arrears_only=request.args.get("arrears") in ("1", "true"))
        return self.response(200, result=[{
            "enterprise": b.enterprise.id, "unit_no": b.enterprise.unit_no,
            "name": b.enterprise.name, "status": b.enterprise.status,
            "payer_kind": b.payer_kind, "payer_name": b.payer_name, "retirees": b.retirees,
            "assessed": str(b.assessed), "paid": str(b.paid), "outstanding": str(b.outstanding),
            "plan": b.plan.id if b.plan else None} for b in rows], count=len(rows))


class FeePaymentApi(ScopedModelRestApi):
    """``/api/v1/fee_payment/``: payments (A35, A36); POST records one and applies it;
    ``/<id>/receipt`` is its PDF receipt."""

    resource_name = "fee_payment"
    datamodel = interface(FeePayment)
    allow_browser_login = True
    include_route_methods = READ | {"record", "print_receipt"}
    list_columns = ["id", "receipt_no", "enterprise.id", "enterprise.name", "payer_kind",
                    "payer_name", "funding_source", "amount", "paid_on", "method", "recorded_by"]
    show_columns = [*list_columns, "reference", "note", "recorded_at"]
    search_columns = ["enterprise", "paid_on", "payer_kind", "funding_source"]
    base_order = ("id", "desc")

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def record(self):
        payload = _payload()

        def work():
            payment = payments.record_payment(
                db.session, current_actor(), enterprise=_ref(Enterprise, payload, "enterprise"),
                amount=_money_in(payload), paid_on=_date(payload, "paid_on"),
                funding_source=payload.get("funding_source") or None,
                method=payload.get("method") or "transfer", reference=payload.get("reference"),
                note=payload.get("note"))
            db.session.flush()
            return {"id": payment.id, "receipt_no": payment.receipt_no,
                    "amount": str(payment.amount), "payer_kind": payment.payer_kind,
                    "payer_name": payment.payer_name}
        return _answer(self, work, 201)

    @expose("/<int:pk>/receipt", methods=["GET"])
    @protect()
    @safe
    def print_receipt(self, pk):
        payment = db.session.get(FeePayment, pk)
        if payment is None:
            return self.response_404()
        return Response(receipt_pdf(receipt_data(db.session, payment)),
                        mimetype="application/pdf", headers={"Cache-Control": "no-store"})


class InstalmentPlanApi(ScopedModelRestApi):
    """``/api/v1/instalment_plan/`` (A36): POST an application (multipart with the file
    ``document``, or JSON with ``document_name`` and ``document_base64``); POST
    ``/<id>/transition`` with ``action`` review, approve, sign or reject; GET
    ``/<id>/schedule``; POST ``/schedule`` previews a generated schedule; GET
    ``/overdue`` lists overdue instalments."""

    resource_name = "instalment_plan"
    datamodel = interface(InstalmentPlan)
    allow_browser_login = True
    include_route_methods = READ | {"apply", "transition", "schedule", "preview", "overdue"}
    list_columns = ["id", "enterprise.id", "enterprise.name", "submitted_via", "total", "years",
                    "start_on", "state", "agreement_no"]
    show_columns = [*list_columns, "application_no", "document_name", "approval_no",
                    "signed_on", "created_at"]
    search_columns = ["enterprise", "state"]
    base_order = ("id", "desc")

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def apply(self):
        payload = _payload()
        upload = request.files.get("document")

        def work():
            if upload is not None:
                document, name, kind = upload.read(), upload.filename, upload.mimetype
            else:
                try:
                    document = base64.b64decode(payload.get("document_base64") or "",
                                                validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise RuleViolations([RuleViolation("书面申请须为base64编码", "document")]) \
                        from exc
                name, kind = payload.get("document_name"), payload.get("document_type")
            amounts = payload.get("amounts")
            if isinstance(amounts, str):
                amounts = [a for a in amounts.split(",") if a.strip()]
            if isinstance(amounts, list) and any(isinstance(a, float) for a in amounts):
                raise RuleViolations([RuleViolation("金额请以字符串传送，不接受浮点数", "amounts")])
            try:
                years = int(payload.get("years") or 3)
            except (TypeError, ValueError) as exc:
                raise RuleViolations([RuleViolation("年限须为整数", "years")]) from exc
            plan = instalments.apply_for_plan(
                db.session, current_actor(), _ref(Enterprise, payload, "enterprise"),
                years=years, start_on=_date(payload, "start_on"), amounts=amounts or None,
                document=document, document_name=name, document_type=kind,
                application_no=payload.get("application_no"), note=payload.get("note"))
            db.session.flush()
            return {"id": plan.id, "result": _plan_json(plan)}
        return _answer(self, work, 201)

    @expose("/<int:pk>/transition", methods=["POST"])
    @protect()
    @safe
    def transition(self, pk):
        payload = _payload()

        def work():
            plan = _get(InstalmentPlan, pk)
            instalments.transition(
                db.session, current_actor(), plan, str(payload.get("action") or ""),
                note=payload.get("note"), approval_no=payload.get("approval_no"),
                agreement_no=payload.get("agreement_no"),
                signed_on=_date(payload, "signed_on", required=False))
            return {"id": plan.id, "state": plan.state, "result": _plan_json(plan)}
        return _answer(self, work)

    @expose("/<int:pk>/schedule", methods=["GET"])
    @protect()
    @safe
    def schedule(self, pk):
        plan = db.session.get(InstalmentPlan, pk)
        if plan is None:
            return self.response_404()
        return self.response(200, result=_plan_json(plan))

    @expose("/schedule", methods=["POST"])
    @protect()
    @safe
    def preview(self):
        payload = _payload()

        def work():
            try:
                years = int(payload.get("years") or 3)
            except (TypeError, ValueError) as exc:
                raise RuleViolations([RuleViolation("年限须为整数", "years")]) from exc
            lines = instalments.build_lines(_money_in(payload, "total"), years,
                                            _date(payload, "start_on"), payload.get("amounts"))
            return {"result": [{"seq": ln.seq, "due_on": ln.due_on.isoformat(),
                                "amount": str(ln.amount)} for ln in lines]}
        return _answer(self, work)

    @expose("/overdue", methods=["GET"])
    @protect()
    @safe
    def overdue(self):
        rows = instalments.overdue_instalments(db.session)
        return self.response(200, count=len(rows), result=[{
            "plan": i.plan_id, "enterprise": i.plan.enterprise.name, "seq": i.seq,
            "due_on": i.due_on.isoformat(), "amount": str(i.amount),
            "outstanding": str(i.outstanding)} for i in rows])


class FundIncomeApi(ScopedModelRestApi):
    """``/api/v1/fund_income/``: income of the special account (A37, A38); POST a
    donation or sponsorship."""

    resource_name = "fund_income"
    datamodel = interface(FundIncome)
    allow_browser_login = True
    include_route_methods = READ | {"record"}
    list_columns = ["id", "source", "amount", "received_on", "from_name", "payment_id", "note",
                    "recorded_by"]
    show_columns = list_columns
    search_columns = ["source", "received_on"]
    base_order = ("id", "desc")

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def record(self):
        payload = _payload()

        def work():
            income = fund.record_income(
                db.session, current_actor(), source=str(payload.get("source") or ""),
                amount=_money_in(payload), received_on=_date(payload, "received_on"),
                from_name=payload.get("from_name") or "", note=payload.get("note"))
            db.session.flush()
            return {"id": income.id, "amount": str(income.amount)}
        return _answer(self, work, 201)


class FundAllocationApi(ScopedModelRestApi):
    """``/api/v1/fund_allocation/`` (A39): POST a request; POST ``/<id>/approve``
    (``approval_no``), ``/<id>/check`` (``checked_on``), ``/<id>/reject`` (``note``)."""

    resource_name = "fund_allocation"
    datamodel = interface(FundAllocation)
    allow_browser_login = True
    include_route_methods = READ | {"request_allocation", "approve", "check", "reject"}
    list_columns = ["id", "organisation.id", "organisation.name", "purpose", "amount",
                    "retirees_managed", "state", "approved_by", "checked_by", "checked_on"]
    show_columns = [*list_columns, "need", "approval_no", "requested_by", "note"]
    search_columns = ["organisation", "state", "purpose"]
    base_order = ("id", "desc")

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def request_allocation(self):
        payload = _payload()

        def work():
            allocation = fund.request_allocation(
                db.session, current_actor(), organisation=_ref(Region, payload, "organisation"),
                purpose=str(payload.get("purpose") or ""), amount=_money_in(payload),
                need=payload.get("need") or "", note=payload.get("note"))
            db.session.flush()
            return {"id": allocation.id, "state": allocation.state,
                    "retirees_managed": allocation.retirees_managed}
        return _answer(self, work, 201)

    def _step(self, pk, apply):
        payload = _payload()

        def work():
            allocation = _get(FundAllocation, pk)
            apply(allocation, payload)
            return {"id": allocation.id, "state": allocation.state}
        return _answer(self, work)

    @expose("/<int:pk>/approve", methods=["POST"])
    @protect()
    @safe
    def approve(self, pk):
        return self._step(pk, lambda a, p: fund.approve_allocation(
            db.session, current_actor(), a, p.get("approval_no") or ""))

    @expose("/<int:pk>/check", methods=["POST"])
    @protect()
    @safe
    def check(self, pk):
        return self._step(pk, lambda a, p: fund.check_allocation(
            db.session, current_actor(), a, _date(p, "checked_on", required=False)))

    @expose("/<int:pk>/reject", methods=["POST"])
    @protect()
    @safe
    def reject(self, pk):
        return self._step(pk, lambda a, p: fund.reject_allocation(
            db.session, current_actor(), a, p.get("note") or ""))


class FundBookApi(ScopedModelRestApi):
    """``/api/v1/fund_book/`` (A39): book entries of the organisations in scope; GET
    ``/accounts`` their balances; POST ``/expense`` spending from a book."""

    resource_name = "fund_book"
    datamodel = interface(FundBookEntry)
    allow_browser_login = True
    include_route_methods = READ | {"accounts", "expense"}
    list_columns = ["id", "account.id", "account.name", "kind", "purpose", "amount", "entry_on",
                    "allocation_id", "note", "recorded_by"]
    show_columns = list_columns
    search_columns = ["account", "kind", "purpose", "entry_on"]
    base_order = ("id", "desc")

    @expose("/accounts", methods=["GET"])
    @protect()
    @safe
    def accounts(self):
        rows = db.session.execute(select(FundAccount).order_by(FundAccount.code)).scalars().all()
        return self.response(200, result=[{"id": a.id, "code": a.code, "name": a.name,
                                           "organisation": a.organisation_id,
                                           "balance": str(a.balance)} for a in rows])

    @expose("/expense", methods=["POST"])
    @protect()
    @safe
    def expense(self):
        payload = _payload()

        def work():
            entry = fund.record_expense(
                db.session, current_actor(), organisation=_ref(Region, payload, "organisation"),
                purpose=str(payload.get("purpose") or ""), amount=_money_in(payload),
                entry_on=_date(payload, "entry_on"), note=payload.get("note"))
            db.session.flush()
            return {"id": entry.id, "amount": str(entry.amount)}
        return _answer(self, work, 201)
