"""Screens of the fee plugin: dues, balances and arrears, payments and receipts,
instalment plans and their steps, the special account, allocations, books, reports.

Money is entered as text and parsed to ``Decimal`` (money.to_money): never a float.
Every write goes through the service modules, which check the rule and the role and
refuse with a Chinese message; nothing is written then.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Optional

from core.downloads import download_response, today_stamp
from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.regions import Region
from core.registry.models import Enterprise
from core.views.base import ScopedModelView, interface, violation_text
from core.views.lookup import LookupField, lookup_answer
from plugins.fees import fund, instalments, notices, payments, reports, uploads
from plugins.fees.access import STEP_OFFICE, STEP_TITLES, current_actor, may
from plugins.fees.assessment import assess_backlog, balances
from plugins.fees.models import (
    FUNDING_SOURCES,
    PAYMENT_METHODS,
    PURPOSES,
    FeeDue,
    FeePayment,
    FundAccount,
    FundAllocation,
    FundBookEntry,
    FundIncome,
    Instalment,
    InstalmentPlan,
)
from plugins.fees.money import ZERO, yuan
from plugins.fees.receipts import receipt_data, receipt_pdf

FORM_TEMPLATE = "fees_form.html"
PLAN_FORM_TEMPLATE = "fees_plan_form.html"
LIST_TEMPLATE = "fees_model_list.html"
SHOW_TEMPLATE = "fees_model_show.html"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REQUIRED = "此项必填"


def _run(form, title: str, apply, cancel: str, done: str | None = None,
         message: str = "已完成"):
    """Validate the form, apply it through a service function, commit; on refusal
    roll back and show the Chinese messages."""
    if form.validate_on_submit():
        try:
            result = apply(form)
            db.session.commit()
        except (RuleViolations, RuleViolation, ScopeViolation) as exc:
            db.session.rollback()
            _show_refusal(form, exc)
        else:
            flash(f"{title}：{message}", "success")
            return redirect(done(result) if callable(done) else (done or cancel))
        return None
    for errors in form.errors.values():
        for text in errors:
            flash(text, "danger")
    return None


def _show_refusal(form, exc) -> None:
    """A refusal's messages beside the fields they are about (issue 14 item 19); the
    others, and a pointer to them, at the top of the page."""
    violations = exc.violations if isinstance(exc, RuleViolations) else \
        [exc] if isinstance(exc, RuleViolation) else []
    field_for = getattr(form, "field_for", lambda v: v.field)
    beside = [v for v in violations if field_for(v) and field_for(v) in form]
    for v in beside:
        form[field_for(v)].errors = [*form[field_for(v)].errors, v.message]
    rest = [v.message for v in violations if v not in beside] or \
        ([] if violations else [violation_text(exc)])
    if beside:
        rest.append("请按各栏下方的提示修改后再提交")
    flash("；".join(rest), "danger")


def _not_allowed(step: str, back: str):
    """Issue 14 item 3: a form is opened only by whom may submit it; anyone else is
    sent back with a message instead of filling a form that will be refused."""
    if may(current_actor(), step):
        return None
    flash(f"“{STEP_TITLES[step]}”由{STEP_OFFICE[step]}办理，您没有这项权限", "warning")
    return redirect(back)


class _StepButtons:
    """Issue 14 item 3: the buttons above a list and on a record are only the steps the
    current user may take — the role (the plugin's rules and FAB's permission) and, on a
    record, its current state. ``list_buttons``: (label, endpoint, css, step or None,
    permission); ``record_actions(item)``: (label, url, css)."""

    list_buttons: tuple = ()

    def _permitted(self, permission: str) -> bool:
        return self.appbuilder.sm.has_access(permission, self.class_permission_name)

    def visible_buttons(self) -> list[tuple[str, str, str]]:
        actor = current_actor()
        return [(label, url_for(f".{endpoint}"), css)
                for label, endpoint, css, step, permission in self.list_buttons
                if self._permitted(permission) and (step is None or may(actor, step))]

    def record_actions(self, item) -> list[tuple[str, str, str]]:
        return []

    def render_template(self, template, **kwargs):
        kwargs.setdefault("fees_buttons", self.visible_buttons())
        pk = kwargs.get("pk")
        item = self.datamodel.get(pk) if pk is not None else None
        kwargs.setdefault("fees_actions", self.record_actions(item) if item is not None else [])
        return super().render_template(template, **kwargs)


def _money_text(label: str, required: bool = True):
    return StringField(label, validators=[DataRequired(REQUIRED)] if required else [Optional()],
                       description="单位：元，最多两位小数")


def owing_enterprises():
    """Issue 14 item 19: the enterprises a payment or an instalment plan may name — those
    still owing (A35, A36), in the user's scope; chosen by typing (core.views.lookup)."""
    owing = (select(FeeDue.enterprise_id).group_by(FeeDue.enterprise_id)
             .having(func.sum(FeeDue.amount - FeeDue.paid_amount) > ZERO))
    return select(Enterprise).where(Enterprise.id.in_(owing))


def _enterprise_field(label: str, endpoint: str) -> LookupField:
    return LookupField(label, [DataRequired(f"请选择{label}")], rows=owing_enterprises,
                       endpoint=endpoint, description="输入单位编号或名称查找（只列出尚有欠缴服务费的单位）")


def _service_organisations() -> list[tuple[int, str]]:
    regions = db.session.execute(select(Region).where(
        Region.level.in_(fund.SERVICE_LEVELS)).order_by(Region.code)).scalars()
    return [(r.id, f"{r.full_name}（{r.code}）") for r in regions]


# --- dues, balances, arrears (A35, A36) ------------------------------------------------

class FeeDueView(ScopedModelView):
    """A35: one row per retiree — raised by the system, read-only here."""

    route_base = "/fees/dues"
    datamodel = interface(FeeDue)
    list_title = show_title = "服务费应缴明细"
    base_permissions = ["can_list", "can_show"]
    list_columns = ["retiree", "enterprise", "trigger_label", "due_on", "amount", "paid_amount",
                    "outstanding", "status_label"]
    show_columns = ["retiree", "enterprise", "trigger_label", "due_on", "rate", "years",
                    "amount", "paid_amount", "outstanding", "status_label", "created_at"]
    search_columns = ["enterprise", "trigger", "due_on", "retiree"]
    base_order = ("due_on", "desc")
    label_columns = {"retiree": "退休人员", "enterprise": "核定单位", "trigger_label": "核定时点",
                     "trigger": "核定时点", "due_on": "应缴日期", "rate": "标准（元/人·年）",
                     "years": "年数", "amount": "应缴（元）", "paid_amount": "已缴（元）",
                     "outstanding": "欠缴（元）", "status_label": "状态", "created_at": "核定时间"}


def _totals(rows) -> dict:
    """Issue 14 item 19: exact sums (Decimal) of the balances shown."""
    return {key: sum((getattr(b, key) for b in rows), ZERO)
            for key in ("assessed", "paid", "outstanding")}


class FeeBalanceView(BaseView):
    """A35, A36 (issue 14 item 19): per enterprise — assessed (its retirees), paid,
    outstanding, payer — on one screen; ``?arrears=1`` shows only those that still owe
    (the former 欠费清单, whose address redirects here). Totals, the workbook of what is
    shown and a 催缴通知书 per enterprise in arrears."""

    route_base = "/fees/balances"
    base_permissions = ["can_list", "can_assess"]
    method_permission_name = {"list": "list", "export": "list", "notice": "list",
                              "assess": "assess"}
    default_view = "list"

    @staticmethod
    def _arrears_only() -> bool:
        return request.args.get("arrears") == "1"

    @expose("/")
    @has_access
    def list(self):
        arrears_only = self._arrears_only()
        rows = balances(db.session, arrears_only=arrears_only)
        can_assess = (self.appbuilder.sm.has_access("can_assess", self.class_permission_name)
                      and may(current_actor(), "pay"))
        return self.render_template("fees_balances.html", rows=rows,
                                    title="欠费清单" if arrears_only else "单位缴费余额",
                                    arrears_only=arrears_only, yuan=yuan,
                                    can_assess=can_assess, form=FlaskForm(),
                                    totals=_totals(rows))

    @expose("/export")
    @has_access
    def export(self):
        """The rows the screen shows (same filter), as a workbook."""
        arrears_only = self._arrears_only()
        title = "欠费清单" if arrears_only else "单位缴费余额"
        data = notices.balances_xlsx(balances(db.session, arrears_only=arrears_only), title)
        stamp = today_stamp()
        return download_response(
            data, f"{title}-{stamp}.xlsx",
            f"fee-{'arrears' if arrears_only else 'balances'}-{stamp}.xlsx", XLSX)

    @expose("/notice/<int:enterprise_id>")
    @has_access
    def notice(self, enterprise_id):
        """The 催缴通知书 of one enterprise that owes (within the user's scope)."""
        found = balances(db.session, arrears_only=True, enterprise_id=enterprise_id)
        if not found:
            flash("该单位没有欠缴服务费，无需催缴", "warning")
            return redirect(url_for(".list", arrears=1))
        b = found[0]
        pdf = notices.notice_pdf(b, notices.owed_by_year(db.session, enterprise_id))
        return download_response(pdf, f"催缴通知书-{b.enterprise.name}.pdf",
                                 f"fee-notice-{b.enterprise.unit_no}.pdf", "application/pdf",
                                 inline=True)

    @expose("/assess", methods=["POST"])
    @has_access
    def assess(self):
        """Issue 14 item 17, A35: raise the dues missing where the plugin is on (e.g.
        just switched on for a district), by the city centre; never twice."""
        refused = _not_allowed("pay", url_for(".list"))
        if refused:
            return refused
        if not FlaskForm().validate_on_submit():
            flash("页面已过期，请重新提交", "warning")
            return redirect(url_for(".list"))
        created = assess_backlog(db.session)
        db.session.commit()
        flash(f"核定服务费：新核定 {created} 人" if created else
              "核定服务费：没有需要补核定的人员", "success" if created else "info")
        return redirect(url_for(".list"))


# --- payments and receipts (A35, A36) -------------------------------------------------

class PaymentForm(FlaskForm):
    enterprise = _enterprise_field("缴费单位", "FeePaymentView.enterprises")
    amount = _money_text("缴费金额")
    paid_on = DateField("缴费日期", validators=[DataRequired(REQUIRED)], default=date.today)
    funding_source = SelectField("资金来源（行业主管部门代缴时）",
                                 choices=[("", "（单位自行缴纳，不填）"), *FUNDING_SOURCES.items()])
    method = SelectField("缴费方式", choices=list(PAYMENT_METHODS.items()))
    reference = StringField("银行流水号／票据号")
    note = StringField("备注")
    confirm_duplicate = BooleanField("确认不是重复登记")


class ReverseForm(FlaskForm):
    reason = TextAreaField("冲正原因", validators=[DataRequired(REQUIRED)],
                           description="如：重复登记、金额录错、单位录错")


class FeePaymentView(_StepButtons, ScopedModelView):
    """A35, A36: payments to the city service centre, each with its PDF receipt."""

    route_base = "/fees/payments"
    datamodel = interface(FeePayment)
    list_title = show_title = "服务费缴费登记"
    base_permissions = ["can_list", "can_show", "can_record", "can_print_receipt",
                        "can_reverse"]
    list_columns = ["receipt_no", "paid_on", "enterprise", "payer_name", "payer_label",
                    "funding_label", "amount", "status_label", "recorded_by"]
    show_columns = ["receipt_no", "paid_on", "enterprise", "payer_label", "payer_name",
                    "funding_label", "amount", "method_label", "reference", "note",
                    "recorded_by", "recorded_at", "status_label", "reversed_by", "reversed_at",
                    "reversal_reason"]
    search_columns = ["receipt_no", "enterprise", "paid_on", "payer_kind", "funding_source"]
    base_order = ("id", "desc")
    label_columns = {"receipt_no": "收据编号", "paid_on": "缴费日期", "enterprise": "参保单位",
                     "payer_name": "缴款单位", "payer_label": "缴款方", "payer_kind": "缴款方",
                     "funding_label": "资金来源", "funding_source": "资金来源",
                     "amount": "金额（元）", "method_label": "缴费方式", "reference": "流水号",
                     "note": "备注", "recorded_by": "经办人", "recorded_at": "登记时间",
                     "status_label": "状态", "reversed_by": "冲正经办人",
                     "reversed_at": "冲正时间", "reversal_reason": "冲正原因"}
    formatters_columns = {"reversed_at": lambda v: f"{v:%Y-%m-%d %H:%M}" if v else "—",
                          "recorded_at": lambda v: f"{v:%Y-%m-%d %H:%M}" if v else "—",
                          "reversed_by": lambda v: v or "—",
                          "reversal_reason": lambda v: v or "—"}
    list_template = LIST_TEMPLATE
    show_template = SHOW_TEMPLATE
    list_buttons = (("登记缴费", "record", "btn-primary", "pay", "can_record"),)

    def record_actions(self, item):
        actions = [("打印收据", url_for(".print_receipt", pk=item.id), "btn-default")]
        if not item.reversed and self._permitted("can_reverse") and may(current_actor(), "pay"):
            actions.append(("冲正", url_for(".reverse", pk=item.id), "btn-danger"))
        return actions

    @expose("/record", methods=["GET", "POST"])
    @has_access
    def record(self):
        refused = _not_allowed("pay", url_for(".list"))
        if refused:
            return refused
        form = PaymentForm()

        def apply(f):
            return payments.record_payment(
                db.session, current_actor(), enterprise=f.enterprise.data, amount=f.amount.data,
                paid_on=f.paid_on.data, funding_source=f.funding_source.data or None,
                method=f.method.data, reference=f.reference.data, note=f.note.data,
                confirm_duplicate=f.confirm_duplicate.data)
        done = _run(form, "登记缴费", apply, url_for(".list"),
                    done=lambda p: url_for(".show", pk=p.id))
        if not (form.confirm_duplicate.errors or form.confirm_duplicate.data):
            del form.confirm_duplicate  # asked for only when the payment looks doubled
        return done or self.render_template(FORM_TEMPLATE, form=form, title="登记缴费",
                                            cancel=url_for(".list"))

    @expose("/enterprises")
    @has_access
    @permission_name("record")
    def enterprises(self):
        """The enterprise box's matches as the user types (``?term=``)."""
        return lookup_answer(owing_enterprises(), request.args.get("term", ""))

    @expose("/reverse/<int:pk>", methods=["GET", "POST"])
    @has_access
    def reverse(self, pk):
        """Issue 14 item 16: reverse (冲正) a wrong payment, with a reason."""
        payment = self.datamodel.get(pk)
        if payment is None:
            abort(404)
        show = url_for(".show", pk=pk)
        refused = _not_allowed("pay", show)
        if refused:
            return refused
        if payment.reversed:
            flash(f"收据{payment.receipt_no}已冲正", "warning")
            return redirect(show)
        form = ReverseForm()

        def apply(f):
            return payments.reverse_payment(db.session, current_actor(), payment, f.reason.data)
        done = _run(form, f"冲正收据{payment.receipt_no}", apply, show, message="已冲正")
        if done:
            payments.audit_reversal(payment)
        return done or self.render_template(
            FORM_TEMPLATE, form=form, cancel=show,
            title=f"冲正：收据{payment.receipt_no}，{payment.enterprise}，{yuan(payment.amount)}元")

    @expose("/receipt/<int:pk>")
    @has_access
    def print_receipt(self, pk):
        payment = self.datamodel.get(pk)
        if payment is None:
            abort(404)
        pdf = receipt_pdf(receipt_data(db.session, payment))
        return download_response(pdf, f"服务费收据-{payment.receipt_no}.pdf",
                                 f"receipt-{payment.receipt_no}.pdf", "application/pdf",
                                 inline=True)


# --- instalment plans (A36) -----------------------------------------------------------

class PlanForm(FlaskForm):
    enterprise = _enterprise_field("申请单位", "InstalmentPlanView.enterprises")
    years = SelectField("分期年限", coerce=int, choices=[(3, "三年"), (2, "两年"), (1, "一年")])
    start_on = DateField("计划起始日期", validators=[DataRequired(REQUIRED)], default=date.today)
    amount_1 = StringField("第一年缴费金额（元）", render_kw={"inputmode": "decimal"},
                           description="不少于应缴总额的50%；三栏都不填则按第一年50%、第二年30%、"
                                       "第三年余款生成")
    amount_2 = StringField("第二年缴费金额（元）", render_kw={"inputmode": "decimal"},
                           description="不少于应缴总额的30%，余额不足30%的须全部缴清")
    amount_3 = StringField("第三年缴费金额（元）", render_kw={"inputmode": "decimal"},
                           description="缴清余款")
    application_no = StringField("申请文号")
    document = FileField("书面申请（经行业主管部门提出）")
    kept_document = HiddenField()
    note = TextAreaField("备注")

    YEAR_WORDS = ("第一年", "第二年", "第三年")

    def field_for(self, violation) -> str | None:
        """A36: the schedule's refusals beside the year's box they are about (the rest
        under the first year's; the remainder under the last year's)."""
        if violation.field != "amounts":
            return violation.field
        years = self.years.data or 3
        for n, word in enumerate(self.YEAR_WORDS, start=1):
            if violation.message.startswith(word):
                return f"amount_{min(n, years)}"
        return "amount_1"

    def amounts(self) -> list[str] | None:
        """The years' amounts as typed (None: all blank, the default schedule). A box of
        a year the plan has is required once any is filled; a box past the plan's years
        must stay blank."""
        boxes = [self.amount_1, self.amount_2, self.amount_3]
        years = self.years.data
        values = [(b.data or "").strip().replace(",", "").replace("，", "") for b in boxes]
        if not any(values):
            return None
        refusals = [RuleViolation(f"请填写{b.label.text[:3]}的缴费金额", b.name)
                    for b, v in zip(boxes[:years], values[:years], strict=True) if not v]
        refusals += [RuleViolation(f"分期{years}年，{b.label.text[:3]}不填", b.name)
                     for b, v in zip(boxes[years:], values[years:], strict=True) if v]
        if refusals:
            raise RuleViolations(refusals)
        return values[:years]


STEP_FORMS = {
    "review": ("审核（市退管中心）", ()),
    "approve": ("审批（市劳动保障部门）", ("approval_no",)),
    "sign": ("签订分期缴费协议", ("agreement_no", "signed_on")),
    "reject": ("不予批准", ()),
}


def _step_form(action: str) -> FlaskForm:
    fields = STEP_FORMS[action][1]

    class StepForm(FlaskForm):
        pass

    if "approval_no" in fields:
        StepForm.approval_no = StringField("批准文号", validators=[DataRequired(REQUIRED)])
    if "agreement_no" in fields:
        StepForm.agreement_no = StringField("协议编号", validators=[DataRequired(REQUIRED)])
    if "signed_on" in fields:
        StepForm.signed_on = DateField("签订日期", validators=[DataRequired(REQUIRED)],
                                       default=date.today)
    StepForm.note = TextAreaField("意见" if action != "reject" else "不予批准的理由")
    return StepForm()


class InstalmentPlanView(_StepButtons, ScopedModelView):
    """A36: applications, their steps, the schedule and its payments."""

    route_base = "/fees/plans"
    datamodel = interface(InstalmentPlan)
    list_title = show_title = "分期缴费计划"
    base_permissions = ["can_list", "can_show", "can_apply", "can_step", "can_document"]
    list_columns = ["enterprise", "submitted_via", "total", "years", "start_on", "state_label",
                    "paid", "overdue_count"]
    show_columns = ["enterprise", "submitted_via", "application_no", "document_name", "total",
                    "years", "start_on", "state_label", "approval_no", "agreement_no",
                    "signed_on", "paid", "overdue_count", "created_at"]
    search_columns = ["enterprise", "state", "start_on"]
    base_order = ("id", "desc")
    label_columns = {"enterprise": "申请单位", "submitted_via": "行业主管部门",
                     "application_no": "申请文号", "document_name": "书面申请",
                     "total": "应缴总额（元）", "years": "年限", "start_on": "起始日期",
                     "state_label": "状态", "state": "状态", "approval_no": "批准文号",
                     "agreement_no": "协议编号", "signed_on": "签订日期", "paid": "已缴（元）",
                     "overdue_count": "逾期期数", "created_at": "申请时间"}
    list_template = LIST_TEMPLATE
    show_template = "fees_plan_show.html"
    list_buttons = (("登记分期缴费申请", "apply", "btn-primary", "apply", "can_apply"),)
    step_buttons = {"review": ("审核", "btn-info"), "approve": ("审批", "btn-info"),
                    "sign": ("签订协议", "btn-success"), "reject": ("不予批准", "btn-danger")}

    def record_actions(self, item):
        """A36: the document, then only the steps open to this user in the plan's state."""
        actions = [("下载书面申请", url_for(".document", pk=item.id), "btn-default")]
        if item.agreement_no:
            actions.append(("打印分期缴费协议", url_for(".agreement", pk=item.id), "btn-default"))
        if self._permitted("can_step"):
            actions += [(*self.step_buttons[a][:1], url_for(".step", pk=item.id, action=a),
                         self.step_buttons[a][1])
                        for a in instalments.allowed_actions(item, current_actor())]
        return actions

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """The plan with its schedule (overdue instalments flagged) and its steps."""
        plan = self.datamodel.get(pk)
        if plan is None:
            abort(404)
        return self.render_template(self.show_template, pk=plan.id, title=self.show_title,
                                    widgets=self._show(plan.id), related_views=[], plan=plan,
                                    yuan=yuan)

    @expose("/apply", methods=["GET", "POST"])
    @has_access
    def apply(self):
        refused = _not_allowed("apply", url_for(".list"))
        if refused:
            return refused
        form = PlanForm()
        user = current_actor().username
        upload, fresh = None, False  # (bytes, name, type): this request's file or the kept one
        if request.method == "POST":
            chosen = form.document.data
            fresh = bool(chosen and chosen.filename)
            upload = ((chosen.read(), chosen.filename, chosen.mimetype) if fresh
                      else uploads.kept(form.kept_document.data, user))

        def apply(f):
            return instalments.apply_for_plan(
                db.session, current_actor(), f.enterprise.data, years=f.years.data,
                start_on=f.start_on.data, amounts=f.amounts(),
                document=upload[0] if upload else None,
                document_name=upload[1] if upload else None,
                document_type=upload[2] if upload else None,
                application_no=f.application_no.data, note=f.note.data)
        done = _run(form, "分期缴费申请", apply, url_for(".list"), message="已登记",
                    done=lambda p: url_for(".show", pk=p.id))
        if done:
            uploads.drop(form.kept_document.data)
            return done
        if fresh:  # issue 14 item 19: the file survives the failed submit
            uploads.drop(form.kept_document.data)
            form.kept_document.data = uploads.keep(*upload, user)
        if upload:
            form.document.description = f"已上传：{upload[1]}（无需重新选择；选择新文件则替换）"
        else:
            form.kept_document.data = ""
        return self.render_template(PLAN_FORM_TEMPLATE, form=form, title="登记分期缴费申请",
                                    multipart=True, cancel=url_for(".list"))

    @expose("/enterprises")
    @has_access
    @permission_name("apply")
    def enterprises(self):
        """The enterprise box's matches as the user types (``?term=``)."""
        return lookup_answer(owing_enterprises(), request.args.get("term", ""))

    @expose("/step/<int:pk>/<action>", methods=["GET", "POST"])
    @has_access
    def step(self, pk, action):
        plan = self.datamodel.get(pk)
        if plan is None or action not in STEP_FORMS:
            abort(404)
        show = url_for(".show", pk=pk)
        if action not in instalments.allowed_actions(plan, current_actor()):
            flash(f"分期计划当前状态为“{plan.state_label}”，您不能办理“{STEP_FORMS[action][0]}”",
                  "warning")
            return redirect(show)
        form = _step_form(action)

        def apply(f):
            instalments.transition(
                db.session, current_actor(), plan, action, note=f.note.data,
                approval_no=getattr(f, "approval_no", None) and f.approval_no.data,
                agreement_no=getattr(f, "agreement_no", None) and f.agreement_no.data,
                signed_on=getattr(f, "signed_on", None) and f.signed_on.data)
        done = _run(form, STEP_FORMS[action][0], apply, show)
        return done or self.render_template(
            FORM_TEMPLATE, form=form, cancel=show,
            title=f"{STEP_FORMS[action][0]}：{plan}（当前：{plan.state_label}）")

    @expose("/document/<int:pk>")
    @has_access
    def document(self, pk):
        plan = self.datamodel.get(pk)
        if plan is None:
            abort(404)
        suffix = Path(plan.document_name).suffix
        return download_response(
            plan.document, plan.document_name,
            f"instalment-application-{plan.id}{suffix if suffix.isascii() else ''}",
            plan.document_type or "application/octet-stream")

    @expose("/agreement/<int:pk>")
    @has_access
    @permission_name("document")
    def agreement(self, pk):
        """A36 (issue 14 item 19): the signed 分期缴费协议, to print."""
        plan = self.datamodel.get(pk)
        if plan is None:
            abort(404)
        if not plan.agreement_no:
            flash("该分期计划尚未签订协议", "warning")
            return redirect(url_for(".show", pk=pk))
        return download_response(notices.agreement_pdf(plan),
                                 f"分期缴费协议-{plan.agreement_no}.pdf",
                                 f"instalment-agreement-{plan.id}.pdf", "application/pdf",
                                 inline=True)


class InstalmentView(ScopedModelView):
    """A36: every instalment of every plan; overdue ones flagged."""

    route_base = "/fees/instalments"
    datamodel = interface(Instalment)
    list_title = "分期明细（逾期标注）"
    base_permissions = ["can_list", "can_show"]
    list_columns = ["plan", "seq", "due_on", "amount", "paid_amount", "outstanding",
                    "status_label"]
    search_columns = ["plan", "due_on"]
    base_order = ("due_on", "asc")
    label_columns = {"plan": "分期计划", "seq": "期次", "due_on": "应缴日期", "amount": "应缴（元）",
                     "paid_amount": "已缴（元）", "outstanding": "未缴（元）", "status_label": "状态"}


# --- the special account, allocations, books, report (A37–A39) --------------------------

class IncomeForm(FlaskForm):
    source = SelectField("收入类别", choices=[("donation", "捐赠"), ("sponsorship", "赞助")])
    amount = _money_text("金额")
    received_on = DateField("到账日期", validators=[DataRequired(REQUIRED)], default=date.today)
    from_name = StringField("捐赠（赞助）单位或个人", validators=[DataRequired(REQUIRED)])
    note = StringField("备注")


class FundIncomeView(_StepButtons, ScopedModelView):
    """A37, A38: income of the special account (fees are entered with each payment)."""

    route_base = "/fees/income"
    datamodel = interface(FundIncome)
    list_title = "财政专户收入"
    base_permissions = ["can_list", "can_show", "can_record"]
    list_columns = ["received_on", "source_label", "from_name", "amount", "note", "recorded_by"]
    search_columns = ["source", "received_on", "from_name"]
    base_order = ("id", "desc")
    label_columns = {"received_on": "到账日期", "source_label": "来源", "source": "来源",
                     "from_name": "缴款／捐赠方", "amount": "金额（元）", "note": "备注",
                     "recorded_by": "经办人"}
    list_template = LIST_TEMPLATE
    list_buttons = (("登记捐赠、赞助", "record", "btn-primary", "income", "can_record"),)

    @expose("/record", methods=["GET", "POST"])
    @has_access
    def record(self):
        refused = _not_allowed("income", url_for(".list"))
        if refused:
            return refused
        form = IncomeForm()

        def apply(f):
            return fund.record_income(db.session, current_actor(), source=f.source.data,
                                      amount=f.amount.data, received_on=f.received_on.data,
                                      from_name=f.from_name.data, note=f.note.data)
        done = _run(form, "登记专户收入", apply, url_for(".list"))
        return done or self.render_template(FORM_TEMPLATE, form=form, title="登记捐赠、赞助",
                                            cancel=url_for(".list"))


class AllocationForm(FlaskForm):
    organisation = SelectField("服务机构", coerce=int, validators=[DataRequired(REQUIRED)])
    purpose = SelectField("用途", choices=list(PURPOSES.items()))
    amount = _money_text("申请金额")
    need = TextAreaField("经费需求说明", validators=[DataRequired(REQUIRED)])
    note = StringField("备注")


ALLOCATION_STEPS = {"approve": "批准拨付（劳动保障部门）", "check": "核拨（财政部门）",
                    "reject": "不予拨付"}


class FundAllocationView(_StepButtons, ScopedModelView):
    """A39: requests by need, approval by the labour department, check by finance."""

    route_base = "/fees/allocations"
    datamodel = interface(FundAllocation)
    list_title = show_title = "经费拨付"
    base_permissions = ["can_list", "can_show", "can_request_allocation", "can_step"]
    list_columns = ["organisation", "purpose_label", "amount", "retirees_managed", "state_label",
                    "requested_by", "approved_by", "checked_by", "checked_on"]
    show_columns = ["organisation", "purpose_label", "amount", "need", "retirees_managed",
                    "state_label", "requested_by", "requested_at", "approval_no", "approved_by",
                    "approved_at", "checked_by", "checked_at", "checked_on", "note"]
    search_columns = ["organisation", "purpose", "state"]
    base_order = ("id", "desc")
    label_columns = {"organisation": "服务机构", "purpose_label": "用途", "purpose": "用途",
                     "amount": "金额（元）", "need": "需求说明", "retirees_managed": "管理退休人员数",
                     "state_label": "状态", "state": "状态", "requested_by": "申请人",
                     "requested_at": "申请时间", "approval_no": "批准文号", "approved_by": "批准人",
                     "approved_at": "批准时间", "checked_by": "核拨人", "checked_at": "核拨时间",
                     "checked_on": "核拨日期", "note": "备注"}
    list_template = LIST_TEMPLATE
    show_template = SHOW_TEMPLATE
    list_buttons = (("申请拨付", "request_allocation", "btn-primary", None,
                     "can_request_allocation"),)
    step_buttons = {"approve": ("批准", "btn-info"), "check": ("核拨", "btn-success"),
                    "reject": ("不予拨付", "btn-danger")}

    def record_actions(self, item):
        """A39: only the steps open to this user in the allocation's state."""
        if not self._permitted("can_step"):
            return []
        return [(self.step_buttons[a][0], url_for(".step", pk=item.id, action=a),
                 self.step_buttons[a][1])
                for a in fund.allowed_allocation_steps(item, current_actor())]

    @expose("/request", methods=["GET", "POST"])
    @has_access
    def request_allocation(self):
        form = AllocationForm()
        form.organisation.choices = _service_organisations()

        def apply(f):
            return fund.request_allocation(
                db.session, current_actor(), organisation=db.session.get(Region, f.organisation.data),
                purpose=f.purpose.data, amount=f.amount.data, need=f.need.data, note=f.note.data)
        done = _run(form, "申请拨付", apply, url_for(".list"),
                    done=lambda a: url_for(".show", pk=a.id))
        return done or self.render_template(FORM_TEMPLATE, form=form, title="申请经费拨付",
                                            cancel=url_for(".list"))

    @expose("/step/<int:pk>/<action>", methods=["GET", "POST"])
    @has_access
    def step(self, pk, action):
        allocation = self.datamodel.get(pk)
        if allocation is None or action not in ALLOCATION_STEPS:
            abort(404)
        show = url_for(".show", pk=pk)
        if action not in fund.allowed_allocation_steps(allocation, current_actor()):
            flash(f"拨付当前状态为“{allocation.state_label}”，您不能办理“{ALLOCATION_STEPS[action]}”",
                  "warning")
            return redirect(show)

        class StepForm(FlaskForm):
            pass

        if action == "approve":
            StepForm.approval_no = StringField("批准文号", validators=[DataRequired(REQUIRED)])
        if action == "check":
            StepForm.checked_on = DateField("核拨日期", validators=[DataRequired(REQUIRED)],
                                            default=date.today)
        if action == "reject":
            StepForm.note = TextAreaField("理由", validators=[DataRequired(REQUIRED)])
        form = StepForm()

        def apply(f):
            actor = current_actor()
            if action == "approve":
                fund.approve_allocation(db.session, actor, allocation, f.approval_no.data)
            elif action == "check":
                fund.check_allocation(db.session, actor, allocation, f.checked_on.data)
            else:
                fund.reject_allocation(db.session, actor, allocation, f.note.data)
        done = _run(form, ALLOCATION_STEPS[action], apply, show)
        return done or self.render_template(
            FORM_TEMPLATE, form=form, cancel=show,
            title=f"{ALLOCATION_STEPS[action]}：{allocation.organisation}"
                  f"{yuan(allocation.amount)}元（{allocation.state_label}）")


class ExpenseForm(FlaskForm):
    organisation = SelectField("服务机构", coerce=int, validators=[DataRequired(REQUIRED)])
    purpose = SelectField("用途", choices=list(PURPOSES.items()))
    amount = _money_text("支出金额")
    entry_on = DateField("支出日期", validators=[DataRequired(REQUIRED)], default=date.today)
    note = StringField("支出事由", validators=[DataRequired(REQUIRED)])


class FundBookView(_StepButtons, ScopedModelView):
    """A39: each service organisation's own book — receipts from allocations, spending."""

    route_base = "/fees/books"
    datamodel = interface(FundBookEntry)
    list_title = "服务机构经费账"
    base_permissions = ["can_list", "can_show", "can_expense"]
    list_columns = ["account", "entry_on", "kind_label", "purpose_label", "amount",
                    "balance_after", "note", "recorded_by"]
    search_columns = ["account", "kind", "purpose", "entry_on"]
    base_order = ("id", "desc")
    label_columns = {"account": "账簿", "entry_on": "日期", "kind_label": "收支", "kind": "收支",
                     "purpose_label": "用途", "purpose": "用途", "amount": "金额（元）",
                     "balance_after": "余额（元）", "note": "摘要", "recorded_by": "经办人"}
    formatters_columns = {"balance_after": yuan}
    list_template = LIST_TEMPLATE
    list_buttons = (("登记支出", "expense", "btn-primary", None, "can_expense"),)

    @expose("/expense", methods=["GET", "POST"])
    @has_access
    def expense(self):
        form = ExpenseForm()
        accounts = db.session.execute(select(FundAccount).where(
            FundAccount.organisation_id.is_not(None)).order_by(FundAccount.code)).scalars()
        form.organisation.choices = [(a.organisation_id, f"{a.name}（余额{yuan(a.balance)}元）")
                                     for a in accounts]

        def apply(f):
            return fund.record_expense(
                db.session, current_actor(), organisation=db.session.get(Region, f.organisation.data),
                purpose=f.purpose.data, amount=f.amount.data, entry_on=f.entry_on.data,
                note=f.note.data)
        done = _run(form, "登记支出", apply, url_for(".list"))
        return done or self.render_template(FORM_TEMPLATE, form=form, title="登记经费支出",
                                            cancel=url_for(".list"))


class FundReportView(BaseView):
    """A38: income and spending of a period, kept apart, with the books."""

    route_base = "/fees/report"
    default_view = "list"

    method_permission_name = {"list": "list", "export": "list", "print_report": "list"}

    @staticmethod
    def _report():
        """The period asked for (this year so far by default) and its report."""
        today = date.today()
        try:
            date_from = date.fromisoformat(request.args.get("from") or f"{today.year}-01-01")
            date_to = date.fromisoformat(request.args.get("to") or today.isoformat())
        except ValueError:
            flash("日期格式应为 YYYY-MM-DD", "danger")
            date_from, date_to = date(today.year, 1, 1), today
        user = g.get("ra_user")
        city = getattr(getattr(user, "region", None), "level", None) == "city"
        return fund.period_report(db.session, date_from, date_to), city

    @expose("/")
    @has_access
    def list(self):
        report, city = self._report()
        accounts = db.session.execute(select(FundAccount).order_by(FundAccount.code)).scalars()
        return self.render_template("fees_report.html", report=report, city=city, yuan=yuan,
                                    accounts=list(accounts))

    @expose("/export")
    @has_access
    def export(self):
        """Issue 14 item 19: the period shown, as a workbook."""
        report, city = self._report()
        span = f"{report.date_from}_{report.date_to}"
        return download_response(reports.report_xlsx(report, city), f"收支期间报表-{span}.xlsx",
                                 f"fund-report-{span}.xlsx", XLSX)

    @expose("/print")
    @has_access
    def print_report(self):
        """Issue 14 item 19: the period shown, as a PDF to print."""
        report, city = self._report()
        span = f"{report.date_from}_{report.date_to}"
        return download_response(reports.report_pdf(report, city), f"收支期间报表-{span}.pdf",
                                 f"fund-report-{span}.pdf", "application/pdf", inline=True)
