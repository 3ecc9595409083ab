"""REST API of the fee plugin under ``/api/v1/`` (403 where the plugin is off).

Amounts go in and come out as decimal strings ("600.00"), never as JSON floats: a JSON
number with a fraction is refused. A body that is not a JSON object answers 400 (the
application for a plan may also come as a multipart form with its file); a missing or
mistyped field, or a broken rule, 422 with a Chinese message per field; a write outside
the user's region 403; nothing is written then. Each endpoint's docstring is its OpenAPI
description (``/api/v1/_openapi``), with the components of ``COMPONENTS``.
"""
from __future__ import annotations

import base64
import binascii
import re
from contextlib import suppress
from datetime import date

from flask import request
from flask_appbuilder.api import BaseApi, expose, protect, safe
from sqlalchemy import select

from core.downloads import download_response
from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.regions import Region
from core.registry.models import Enterprise
from core.views.base import (
    MAX_ID,
    NOT_AN_OBJECT,
    ScopedModelRestApi,
    interface,
    request_object,
    text_violations,
)
from core.views.openapi import DECIMAL_PATTERN, DocumentedErrors
from plugins.fees import fund, instalments, payments
from plugins.fees.access import current_actor
from plugins.fees.assessment import balances
from plugins.fees.models import (
    ALLOCATION_STATES,
    PLAN_STATES,
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
DIGITS = re.compile(r"[0-9]+")
LOCAL_TIME = {"type": "string", "example": "2025-03-01T09:30:00",
              "description": "Local time, ISO 8601 without a UTC offset"}
NULLABLE_TEXT = {"type": "string", "nullable": True}
NULLABLE_DATE = {"type": "string", "format": "date", "nullable": True}
MONEY = {"type": "string", "pattern": DECIMAL_PATTERN, "example": "600.00",
         "description": "Yuan, as a decimal string (a JSON number with a fraction is "
                        "refused)"}
COMPONENTS = {
    "FeesMoney": MONEY,
    "FeesAllocationStep": {"type": "object", "required": ["id", "state"], "properties": {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": list(ALLOCATION_STATES)}}},
    "FeesInstalmentPlan": {"type": "object", "required": [
        "id", "enterprise", "state", "total", "years", "start_on", "submitted_via",
        "approval_no", "agreement_no", "signed_on", "instalments", "transitions"],
        "properties": {
            "id": {"type": "integer"},
            "enterprise": {"type": "integer", "description": "The enterprise's id"},
            "state": {"type": "string", "enum": list(PLAN_STATES)},
            "total": MONEY,
            "years": {"type": "integer"},
            "start_on": {"type": "string", "format": "date"},
            "submitted_via": {"type": "string",
                              "description": "The industry authority that applied"},
            "approval_no": NULLABLE_TEXT,
            "agreement_no": NULLABLE_TEXT,
            "signed_on": NULLABLE_DATE,
            "instalments": {"type": "array", "items": {
                "type": "object",
                "required": ["seq", "due_on", "amount", "paid_amount", "overdue"],
                "properties": {"seq": {"type": "integer"},
                               "due_on": {"type": "string", "format": "date"},
                               "amount": MONEY, "paid_amount": MONEY,
                               "overdue": {"type": "boolean"}}}},
            "transitions": {"type": "array", "items": {
                "type": "object",
                "required": ["from", "to", "actor", "role", "acting_for", "at", "note"],
                "properties": {"from": {**NULLABLE_TEXT, "description": "null: the application"},
                               "to": {"type": "string", "enum": list(PLAN_STATES)},
                               "actor": {"type": "string"}, "role": {"type": "string"},
                               "acting_for": {"type": "string"}, "at": LOCAL_TIME,
                               "note": NULLABLE_TEXT}}}},
    },
}


class FeesDocumented:
    """Adds ``COMPONENTS`` to the OpenAPI document, once for all the fee APIs."""

    def add_apispec_components(self, api_spec) -> None:
        super().add_apispec_components(api_spec)
        for name, schema in COMPONENTS.items():
            if name not in api_spec.components.schemas:
                api_spec.components.schema(name, schema)


class NotAnObject(Exception):
    """The request's body is not a JSON object (nor, where one may come, a form)."""


class NotFound(Exception):
    """No record with that id in the user's region."""


def _payload(texts: dict[str, int | None], form: bool = False) -> dict:
    """The request's JSON object (with ``form``, a multipart form too); refused unless
    each field of ``texts`` is null or text of at most its length (``None``: any)."""
    payload = request_object()
    if payload is None:
        if not (form and request.mimetype == "multipart/form-data"):
            raise NotAnObject
        payload = request.form.to_dict()
    wrong = text_violations(payload, texts)
    if wrong:
        raise RuleViolations(wrong)
    return payload


def _date(payload: dict, key: str, required: bool = True) -> date | None:
    value = payload.get(key)
    if value in (None, ""):
        if required:
            raise RuleViolations([RuleViolation("此项必填", key)])
        return None
    parsed = None
    if isinstance(value, str):
        with suppress(ValueError):
            parsed = date.fromisoformat(value)
    if parsed is None:
        raise RuleViolations([RuleViolation("日期格式应为 YYYY-MM-DD", key)])
    return parsed


def _money_in(payload: dict, key: str = "amount"):
    value = payload.get(key)
    if isinstance(value, float):
        raise RuleViolations([RuleViolation("金额请以字符串传送（如 \"600.00\"），不接受浮点数", key)])
    if value in (None, ""):
        raise RuleViolations([RuleViolation("此项必填", key)])
    return value


def _amounts(payload: dict) -> list | None:
    """The proposed amounts of each year: a list, or (from a form) one comma-separated
    string; None for the generated schedule."""
    amounts = payload.get("amounts")
    if isinstance(amounts, str):
        amounts = [a for a in amounts.split(",") if a.strip()]
    if amounts is None or amounts == []:
        return None
    if not isinstance(amounts, list):
        raise RuleViolations([RuleViolation("各年金额须为金额字符串的列表", "amounts")])
    if any(isinstance(a, float) for a in amounts):
        raise RuleViolations([RuleViolation("金额请以字符串传送，不接受浮点数", "amounts")])
    return amounts


def _years(payload: dict) -> int:
    value = payload.get("years")
    if value in (None, ""):
        return instalments.MAX_YEARS
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(
        value, bool) else ""
    if not re.fullmatch(r"[0-9]{1,4}", text):
        raise RuleViolations([RuleViolation("年限须为整数", "years")])
    return int(text)


def _find(model, pk: int):
    """The record with id ``pk`` in the user's region, or None (an id beyond the
    column's range matches nothing; the driver could not even send it)."""
    return db.session.get(model, pk) if abs(pk) <= MAX_ID else None


def _get(model, pk: int):
    row = _find(model, pk)
    if row is None:
        raise NotFound
    return row


def _ref(model, payload: dict, key: str):
    value = payload.get(key)
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(
        value, bool) else ""
    if not DIGITS.fullmatch(text):
        raise RuleViolations([RuleViolation("请填写编号（整数）", key)])
    digits = text.lstrip("0") or "0"
    row = _find(model, int(digits)) if len(digits) <= len(str(MAX_ID)) else None
    if row is None:
        raise RuleViolations([RuleViolation(f"编号为{value}的记录不存在或不在本辖区内", key)])
    return row


def _answer(api, work, status: int = 200):
    """Run ``work`` (returning a dict), commit, answer; refusals roll back."""
    try:
        result = work()
        db.session.commit()
    except NotAnObject:
        return api.response_400(message=NOT_AN_OBJECT)
    except (RuleViolations, RuleViolation) as exc:
        db.session.rollback()
        if isinstance(exc, RuleViolation):
            exc = RuleViolations([exc])
        return api.response_422(message=exc.by_field())
    except ScopeViolation as exc:
        db.session.rollback()
        return api.response(403, message=exc.message)
    except NotFound:
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


class FeeBalanceApi(FeesDocumented, DocumentedErrors, BaseApi):
    """``/api/v1/fee_balance/``: per enterprise assessed, paid, outstanding and payer
    (A35, A36); ``?arrears=1`` for the arrears list."""

    resource_name = "fee_balance"
    allow_browser_login = True

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def get_list(self):
        """Each enterprise's fee balance (A35, A36)
        ---
        get:
          description: >-
            Per enterprise with dues in the user's region, by unit number: what was
            assessed, paid and is outstanding, who pays (A36) and its open instalment plan.
          parameters:
          - in: query
            name: arrears
            description: 1 or true for only the enterprises that still owe
            schema:
              type: string
              enum: ['1', 'true', '0', 'false']
          responses:
            200:
              description: The balances
              content:
                application/json:
                  schema:
                    type: object
                    required: [count, result]
                    properties:
                      count:
                        type: integer
                      result:
                        type: array
                        items:
                          type: object
                          required: [enterprise, unit_no, name, status, payer_kind,
                                     payer_name, retirees, assessed, paid, outstanding, plan]
                          properties:
                            enterprise:
                              type: integer
                              description: The enterprise's id
                            unit_no:
                              type: string
                            name:
                              type: string
                            status:
                              type: string
                            payer_kind:
                              type: string
                              enum: [enterprise, industry_authority]
                            payer_name:
                              type: string
                            retirees:
                              type: integer
                              description: Its retirees with a fee due
                            assessed:
                              $ref: '#/components/schemas/FeesMoney'
                            paid:
                              $ref: '#/components/schemas/FeesMoney'
                            outstanding:
                              $ref: '#/components/schemas/FeesMoney'
                            plan:
                              type: integer
                              nullable: true
                              description: The id of its open instalment plan
        """
        rows = balances(db.session, arrears_only=request.args.get("arrears") in ("1", "true"))
        return self.response(200, result=[{
            "enterprise": b.enterprise.id, "unit_no": b.enterprise.unit_no,
            "name": b.enterprise.name, "status": b.enterprise.status,
            "payer_kind": b.payer_kind, "payer_name": b.payer_name, "retirees": b.retirees,
            "assessed": str(b.assessed), "paid": str(b.paid), "outstanding": str(b.outstanding),
            "plan": b.plan.id if b.plan else None} for b in rows], count=len(rows))


class FeePaymentApi(FeesDocumented, ScopedModelRestApi):
    """``/api/v1/fee_payment/``: payments (A35, A36); POST records one and applies it;
    ``/<id>/receipt`` is its PDF receipt."""

    resource_name = "fee_payment"
    datamodel = interface(FeePayment)
    allow_browser_login = True
    include_route_methods = READ | {"record", "print_receipt", "reverse"}
    list_columns = ["id", "receipt_no", "enterprise.id", "enterprise.name", "payer_kind",
                    "payer_name", "funding_source", "amount", "paid_on", "method", "recorded_by",
                    "reversed_at"]
    show_columns = [*list_columns, "reference", "note", "recorded_at", "reversed_by",
                    "reversal_reason"]
    search_columns = ["enterprise", "paid_on", "payer_kind", "funding_source"]
    base_order = ("id", "desc")

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def record(self):
        """Record a payment and apply it (A35, A36)
        ---
        post:
          description: >-
            By the city service centre: settles the enterprise's dues oldest first,
            counts towards its plan in force and enters the special account. More than
            it owes is refused; a payer that does not trade (bankrupt, revoked…) is its
            industry authority, which must name the funding source.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [enterprise, amount, paid_on]
                  properties:
                    enterprise:
                      type: integer
                      description: The enterprise's id
                    amount:
                      $ref: '#/components/schemas/FeesMoney'
                    paid_on:
                      type: string
                      format: date
                      description: Not after today
                    funding_source:
                      type: string
                      nullable: true
                      enum: [land_auction, state_asset, null]
                      description: Only, and then required, when the industry authority pays
                    method:
                      type: string
                      nullable: true
                      enum: [transfer, cheque, cash, null]
                      description: transfer when left out
                    reference:
                      type: string
                      nullable: true
                      maxLength: 100
                    note:
                      type: string
                      nullable: true
                      maxLength: 200
                    confirm_duplicate:
                      type: boolean
                      description: >-
                        true records it although a payment of the same enterprise,
                        amount and day exists (a bank reference already recorded is
                        refused all the same)
          responses:
            201:
              description: The payment, recorded and applied
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, receipt_no, amount, payer_kind, payer_name]
                    properties:
                      id:
                        type: integer
                      receipt_no:
                        type: string
                        example: SF202500000001
                      amount:
                        $ref: '#/components/schemas/FeesMoney'
                      payer_kind:
                        type: string
                        enum: [enterprise, industry_authority]
                      payer_name:
                        type: string
        """
        def work():
            payload = _payload({"funding_source": 20, "method": 20, "reference": 100,
                                "note": 200})
            payment = payments.record_payment(
                db.session, current_actor(), enterprise=_ref(Enterprise, payload, "enterprise"),
                amount=_money_in(payload), paid_on=_date(payload, "paid_on"),
                funding_source=payload.get("funding_source") or None,
                method=payload.get("method") or "transfer", reference=payload.get("reference"),
                note=payload.get("note"), confirm_duplicate=payload.get("confirm_duplicate") is True)
            db.session.flush()
            return {"id": payment.id, "receipt_no": payment.receipt_no,
                    "amount": str(payment.amount), "payer_kind": payment.payer_kind,
                    "payer_name": payment.payer_name}
        return _answer(self, work, 201)

    @expose("/<int:pk>/receipt", methods=["GET"])
    @protect()
    @safe
    def print_receipt(self, pk):
        """The payment's receipt (收款收据), as a PDF (A35)
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The receipt
              content:
                application/pdf:
                  schema:
                    type: string
                    format: binary
            404:
              $ref: '#/components/responses/404'
        """
        payment = _find(FeePayment, pk)
        if payment is None:
            return self.response_404()
        return download_response(receipt_pdf(receipt_data(db.session, payment)),
                                 f"服务费收据-{payment.receipt_no}.pdf",
                                 f"receipt-{payment.receipt_no}.pdf", "application/pdf",
                                 inline=True)


    @expose("/<int:pk>/reverse", methods=["POST"])
    @protect()
    @safe
    def reverse(self, pk):
        """Reverse (冲正) a wrong payment (issue 14 item 16)
        ---
        post:
          description: >-
            By the role that records payments, with a reason: what it settled is owed
            again, the special account gives the amount back through a reversing entry,
            the payment and its income stay (marked reversed); audited.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [reason]
                  properties:
                    reason:
                      type: string
                      maxLength: 200
          responses:
            200:
              description: The payment, reversed
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      receipt_no:
                        type: string
                      reversed_at:
                        type: string
                        format: date-time
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        payment = _find(FeePayment, pk)
        if payment is None:
            return self.response_404()

        already = payment.reversed

        def work():
            payload = _payload({"reason": 200})
            payments.reverse_payment(db.session, current_actor(), payment,
                                     payload.get("reason"))
            return {"id": payment.id, "receipt_no": payment.receipt_no,
                    "reversed_at": payment.reversed_at.isoformat(timespec="seconds")}
        answer = _answer(self, work)
        if payment.reversed and not already:
            payments.audit_reversal(payment)
        return answer


class InstalmentPlanApi(FeesDocumented, ScopedModelRestApi):
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
        """Record an application for an instalment plan (A36)
        ---
        post:
          description: >-
            By the city service centre: the enterprise's written application, made
            through its industry authority, for all it owes now. The schedule is
            generated (at least 50 % in year 1, 30 % in year 2, the rest in year 3)
            unless ``amounts`` proposes one, which must keep to those rules.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [enterprise, start_on, document_name, document_base64]
                  properties:
                    enterprise:
                      type: integer
                      description: The enterprise's id
                    years:
                      type: integer
                      description: 1 to 3; 3 when left out
                    start_on:
                      type: string
                      format: date
                    amounts:
                      description: >-
                        The amount of each year (as many as ``years``), as a list or
                        one comma-separated string; left out, the schedule is generated
                      anyOf:
                      - type: array
                        items:
                          $ref: '#/components/schemas/FeesMoney'
                      - type: string
                    document_name:
                      type: string
                      maxLength: 200
                    document_base64:
                      type: string
                      format: byte
                      description: The written application's file, base64-encoded
                    document_type:
                      type: string
                      nullable: true
                      maxLength: 100
                      description: Its media type
                    application_no:
                      type: string
                      nullable: true
                      maxLength: 100
                    note:
                      type: string
                      nullable: true
              multipart/form-data:
                schema:
                  type: object
                  required: [enterprise, start_on, document]
                  properties:
                    enterprise:
                      type: integer
                    years:
                      type: integer
                    start_on:
                      type: string
                      format: date
                    amounts:
                      type: string
                      description: The amount of each year, comma-separated
                    document:
                      type: string
                      format: binary
                      description: The written application's file (its name at most 200
                        characters)
                    application_no:
                      type: string
                      maxLength: 100
                    note:
                      type: string
          responses:
            201:
              description: The plan, applied for
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, result]
                    properties:
                      id:
                        type: integer
                      result:
                        $ref: '#/components/schemas/FeesInstalmentPlan'
        """
        def work():
            payload = _payload({"document_name": 200, "document_base64": None,
                                "document_type": 100, "application_no": 100, "note": None},
                               form=True)
            upload = request.files.get("document")
            if upload is not None:
                document, name, kind = upload.read(), upload.filename, upload.mimetype
                wrong = text_violations({"document": name}, {"document": 200})
                if wrong:
                    raise RuleViolations(wrong)
            else:
                try:
                    document = base64.b64decode(payload.get("document_base64") or "",
                                                validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise RuleViolations([RuleViolation("书面申请须为base64编码", "document")]) \
                        from exc
                name, kind = payload.get("document_name"), payload.get("document_type")
            plan = instalments.apply_for_plan(
                db.session, current_actor(), _ref(Enterprise, payload, "enterprise"),
                years=_years(payload), start_on=_date(payload, "start_on"),
                amounts=_amounts(payload), document=document, document_name=name,
                document_type=kind, application_no=payload.get("application_no"),
                note=payload.get("note"))
            db.session.flush()
            return {"id": plan.id, "result": _plan_json(plan)}
        return _answer(self, work, 201)

    @expose("/<int:pk>/transition", methods=["POST"])
    @protect()
    @safe
    def transition(self, pk):
        """Take the plan's next step (A36)
        ---
        post:
          description: >-
            review (city service centre), approve (city labour department, not the
            reviewer; needs ``approval_no``), sign (city service centre; needs
            ``agreement_no`` and ``signed_on``) or reject (needs ``note``), each from
            the state it follows, by a user holding the step's role.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [action]
                  properties:
                    action:
                      type: string
                      enum: [review, approve, sign, reject]
                    note:
                      type: string
                      nullable: true
                    approval_no:
                      type: string
                      nullable: true
                      maxLength: 100
                    agreement_no:
                      type: string
                      nullable: true
                      maxLength: 100
                    signed_on:
                      type: string
                      format: date
                      nullable: true
          responses:
            200:
              description: The plan, after the step
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, state, result]
                    properties:
                      id:
                        type: integer
                      state:
                        type: string
                        enum: [reviewed, approved, signed, rejected]
                      result:
                        $ref: '#/components/schemas/FeesInstalmentPlan'
            404:
              $ref: '#/components/responses/404'
        """
        def work():
            payload = _payload({"action": 20, "note": None, "approval_no": 100,
                                "agreement_no": 100})
            plan = _get(InstalmentPlan, pk)
            instalments.transition(
                db.session, current_actor(), plan, payload.get("action") or "",
                note=payload.get("note"), approval_no=payload.get("approval_no"),
                agreement_no=payload.get("agreement_no"),
                signed_on=_date(payload, "signed_on", required=False))
            return {"id": plan.id, "state": plan.state, "result": _plan_json(plan)}
        return _answer(self, work)

    @expose("/<int:pk>/schedule", methods=["GET"])
    @protect()
    @safe
    def schedule(self, pk):
        """The plan with its instalments and its steps (A36)
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The plan
              content:
                application/json:
                  schema:
                    type: object
                    required: [result]
                    properties:
                      result:
                        $ref: '#/components/schemas/FeesInstalmentPlan'
            404:
              $ref: '#/components/responses/404'
        """
        plan = _find(InstalmentPlan, pk)
        if plan is None:
            return self.response_404()
        return self.response(200, result=_plan_json(plan))

    @expose("/schedule", methods=["POST"])
    @protect()
    @safe
    def preview(self):
        """Preview a schedule, generated or proposed (A36); nothing is saved
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [total, start_on]
                  properties:
                    total:
                      $ref: '#/components/schemas/FeesMoney'
                    years:
                      type: integer
                      description: 1 to 3; 3 when left out
                    start_on:
                      type: string
                      format: date
                    amounts:
                      description: >-
                        The amount of each year to check (as many as ``years``), as a
                        list or one comma-separated string; left out, it is generated
                      anyOf:
                      - type: array
                        items:
                          $ref: '#/components/schemas/FeesMoney'
                      - type: string
          responses:
            200:
              description: The schedule, within the rules
              content:
                application/json:
                  schema:
                    type: object
                    required: [result]
                    properties:
                      result:
                        type: array
                        items:
                          type: object
                          required: [seq, due_on, amount]
                          properties:
                            seq:
                              type: integer
                            due_on:
                              type: string
                              format: date
                            amount:
                              $ref: '#/components/schemas/FeesMoney'
        """
        def work():
            payload = _payload({})
            lines = instalments.build_lines(_money_in(payload, "total"), _years(payload),
                                            _date(payload, "start_on"), _amounts(payload))
            return {"result": [{"seq": ln.seq, "due_on": ln.due_on.isoformat(),
                                "amount": str(ln.amount)} for ln in lines]}
        return _answer(self, work)

    @expose("/overdue", methods=["GET"])
    @protect()
    @safe
    def overdue(self):
        """Overdue instalments of the plans in force (A36)
        ---
        get:
          description: Unpaid in full past their due date, the earliest first.
          responses:
            200:
              description: The overdue instalments
              content:
                application/json:
                  schema:
                    type: object
                    required: [count, result]
                    properties:
                      count:
                        type: integer
                      result:
                        type: array
                        items:
                          type: object
                          required: [plan, enterprise, seq, due_on, amount, outstanding]
                          properties:
                            plan:
                              type: integer
                              description: The plan's id
                            enterprise:
                              type: string
                              description: The enterprise's name
                            seq:
                              type: integer
                            due_on:
                              type: string
                              format: date
                            amount:
                              $ref: '#/components/schemas/FeesMoney'
                            outstanding:
                              $ref: '#/components/schemas/FeesMoney'
        """
        rows = instalments.overdue_instalments(db.session)
        return self.response(200, count=len(rows), result=[{
            "plan": i.plan_id, "enterprise": i.plan.enterprise.name, "seq": i.seq,
            "due_on": i.due_on.isoformat(), "amount": str(i.amount),
            "outstanding": str(i.outstanding)} for i in rows])


class FundIncomeApi(FeesDocumented, ScopedModelRestApi):
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
        """Record a donation or a sponsorship into the special account (A37, A38)
        ---
        post:
          description: >-
            By the city service centre. Fee income is entered with each payment, not
            here.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [source, amount, received_on, from_name]
                  properties:
                    source:
                      type: string
                      enum: [donation, sponsorship]
                    amount:
                      $ref: '#/components/schemas/FeesMoney'
                    received_on:
                      type: string
                      format: date
                    from_name:
                      type: string
                      maxLength: 200
                      description: Who gave it
                    note:
                      type: string
                      nullable: true
                      maxLength: 200
          responses:
            201:
              description: The income, recorded
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, amount]
                    properties:
                      id:
                        type: integer
                      amount:
                        $ref: '#/components/schemas/FeesMoney'
        """
        def work():
            payload = _payload({"source": 20, "from_name": 200, "note": 200})
            income = fund.record_income(
                db.session, current_actor(), source=payload.get("source") or "",
                amount=_money_in(payload), received_on=_date(payload, "received_on"),
                from_name=payload.get("from_name") or "", note=payload.get("note"))
            db.session.flush()
            return {"id": income.id, "amount": str(income.amount)}
        return _answer(self, work, 201)


class FundAllocationApi(FeesDocumented, ScopedModelRestApi):
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
        """Request funds for a service organisation, by need (A39)
        ---
        post:
          description: >-
            By the organisation (a district centre, street or community in the user's
            region) or the city service centre; the number of retirees it manages is
            recorded with the request.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [organisation, purpose, amount, need]
                  properties:
                    organisation:
                      type: integer
                      description: The region's id
                    purpose:
                      type: string
                      enum: [database, visits, activities]
                    amount:
                      $ref: '#/components/schemas/FeesMoney'
                    need:
                      type: string
                      description: The statement of need
                    note:
                      type: string
                      nullable: true
                      maxLength: 200
          responses:
            201:
              description: The request, recorded
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, state, retirees_managed]
                    properties:
                      id:
                        type: integer
                      state:
                        type: string
                        enum: [requested]
                      retirees_managed:
                        type: integer
        """
        def work():
            payload = _payload({"purpose": 20, "need": None, "note": 200})
            allocation = fund.request_allocation(
                db.session, current_actor(), organisation=_ref(Region, payload, "organisation"),
                purpose=payload.get("purpose") or "", amount=_money_in(payload),
                need=payload.get("need") or "", note=payload.get("note"))
            db.session.flush()
            return {"id": allocation.id, "state": allocation.state,
                    "retirees_managed": allocation.retirees_managed}
        return _answer(self, work, 201)

    def _step(self, pk, texts: dict[str, int | None], apply):
        def work():
            payload = _payload(texts)
            allocation = _get(FundAllocation, pk)
            apply(allocation, payload)
            return {"id": allocation.id, "state": allocation.state}
        return _answer(self, work)

    @expose("/<int:pk>/approve", methods=["POST"])
    @protect()
    @safe
    def approve(self, pk):
        """Approve a requested allocation, for the labour department (A39)
        ---
        post:
          description: By a user holding a labour-department role.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [approval_no]
                  properties:
                    approval_no:
                      type: string
                      maxLength: 100
          responses:
            200:
              description: The allocation, after the step (its new state)
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/FeesAllocationStep'
            404:
              $ref: '#/components/responses/404'
        """
        return self._step(pk, {"approval_no": 100}, lambda a, p: fund.approve_allocation(
            db.session, current_actor(), a, p.get("approval_no") or ""))

    @expose("/<int:pk>/check", methods=["POST"])
    @protect()
    @safe
    def check(self, pk):
        """Check an approved allocation, for finance: the money moves (A39)
        ---
        post:
          description: >-
            By a user holding a finance role, not the approver: the amount moves from
            the special account, if it covers it, into the organisation's book.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    checked_on:
                      type: string
                      format: date
                      nullable: true
                      description: Today when left out
          responses:
            200:
              description: The allocation, after the step (its new state)
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/FeesAllocationStep'
            404:
              $ref: '#/components/responses/404'
        """
        return self._step(pk, {}, lambda a, p: fund.check_allocation(
            db.session, current_actor(), a, _date(p, "checked_on", required=False)))

    @expose("/<int:pk>/reject", methods=["POST"])
    @protect()
    @safe
    def reject(self, pk):
        """Refuse a requested or approved allocation, with the reason (A39)
        ---
        post:
          description: >-
            By whoever takes its pending step: the labour department for a request, finance
            for an approved one.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [note]
                  properties:
                    note:
                      type: string
                      maxLength: 200
          responses:
            200:
              description: The allocation, after the step (its new state)
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/FeesAllocationStep'
            404:
              $ref: '#/components/responses/404'
        """
        return self._step(pk, {"note": 200}, lambda a, p: fund.reject_allocation(
            db.session, current_actor(), a, p.get("note") or ""))


class FundBookApi(FeesDocumented, ScopedModelRestApi):
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
        """The balances of the special account and of the organisations' books (A38, A39)
        ---
        get:
          description: The accounts in the user's region, by code.
          responses:
            200:
              description: The accounts
              content:
                application/json:
                  schema:
                    type: object
                    required: [result]
                    properties:
                      result:
                        type: array
                        items:
                          type: object
                          required: [id, code, name, organisation, balance]
                          properties:
                            id:
                              type: integer
                            code:
                              type: string
                              description: special, or the organisation's region code
                            name:
                              type: string
                            organisation:
                              type: integer
                              nullable: true
                              description: The region's id; null for the special account
                            balance:
                              $ref: '#/components/schemas/FeesMoney'
        """
        rows = db.session.execute(select(FundAccount).order_by(FundAccount.code)).scalars().all()
        return self.response(200, result=[{"id": a.id, "code": a.code, "name": a.name,
                                           "organisation": a.organisation_id,
                                           "balance": str(a.balance)} for a in rows])

    @expose("/expense", methods=["POST"])
    @protect()
    @safe
    def expense(self):
        """Record spending from an organisation's book (A39)
        ---
        post:
          description: >-
            On an A34 purpose only, with its reason, and never below a zero balance.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [organisation, purpose, amount, entry_on, note]
                  properties:
                    organisation:
                      type: integer
                      description: The region's id
                    purpose:
                      type: string
                      enum: [database, visits, activities]
                    amount:
                      $ref: '#/components/schemas/FeesMoney'
                    entry_on:
                      type: string
                      format: date
                    note:
                      type: string
                      maxLength: 200
                      description: What it was spent on
          responses:
            201:
              description: The spending, recorded
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, amount]
                    properties:
                      id:
                        type: integer
                      amount:
                        $ref: '#/components/schemas/FeesMoney'
        """
        def work():
            payload = _payload({"purpose": 20, "note": 200})
            entry = fund.record_expense(
                db.session, current_actor(), organisation=_ref(Region, payload, "organisation"),
                purpose=payload.get("purpose") or "", amount=_money_in(payload),
                entry_on=_date(payload, "entry_on"), note=payload.get("note"))
            db.session.flush()
            return {"id": entry.id, "amount": str(entry.amount)}
        return _answer(self, work, 201)
