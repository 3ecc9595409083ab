"""Screens of A33 and PIPL: release requests (submit, approve, reject) and unmasking
one person's ID number and phone for a stated reason."""
from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length

from core.audit.trail import record
from core.errors import RuleViolation
from core.extensions import db
from core.release import service
from core.release.models import UNMASKABLE, ReleaseRequest
from core.views.base import ScopedModelView, actor_name, interface


class ReleaseRequestView(ScopedModelView):
    datamodel = interface(ReleaseRequest)
    route_base = "/release"
    list_title = "数据提供申请"
    show_title = "数据提供申请"
    add_title = "提交数据提供申请"
    base_permissions = ["can_list", "can_show", "can_add", "can_approve", "can_reject"]
    list_columns = ["number", "requester", "region", "recipient", "row_cap", "status_label",
                    "decided_by", "valid_until"]
    show_columns = ["number", "requester", "region", "purpose", "recipient", "fields_label",
                    "row_cap", "status_label", "created_at", "decided_by", "decided_at",
                    "decision_note", "valid_until"]
    add_columns = ["purpose", "recipient", "region", "fields", "row_cap"]
    search_columns = ["number", "requester", "recipient", "status"]
    base_order = ("id", "desc")
    show_template = "ra_release_show.html"
    label_columns = {"number": "申请编号", "requester": "申请人", "region": "数据范围",
                     "purpose": "用途", "recipient": "接收单位或个人", "fields": "不脱敏字段",
                     "fields_label": "不脱敏字段", "row_cap": "行数上限",
                     "status": "状态", "status_label": "状态", "created_at": "申请时间",
                     "decided_by": "审批人", "decided_at": "审批时间",
                     "decision_note": "审批意见", "valid_until": "有效期至"}
    description_columns = {
        "fields": "默认只提供脱敏数据；需要完整身份证号、电话或健康信息时在此选择",
        "row_cap": "导出的最多行数", "region": "只能导出该区域内的退休人员"}
    add_form_extra_fields = {"fields": SelectMultipleField(
        "不脱敏字段", choices=list(UNMASKABLE.items()), widget=Select2ManyWidget())}

    def prepare_item(self, item, is_new: bool) -> None:
        if isinstance(item.fields, list | tuple):
            item.fields = ",".join(sorted(item.fields))
        item.number = service.new_number()
        item.requester = actor_name()
        item.status = "pending"
        service.check_new(item)

    def post_add(self, item) -> None:
        flash(f"已提交数据提供申请 {item.number}，请等待市或区退管中心审批", "info")

    def _decide(self, pk: int, approve: bool):
        item = self.datamodel.get(pk)
        if item is None:
            abort(404)
        try:
            service.decide(item, g.ra_user, approve, request.form.get("note"))
            db.session.commit()
        except RuleViolation as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for(".show", pk=pk)), 403
        record("release", object_type="ReleaseRequest", object_id=item.id,
               detail={"number": item.number, "decision": item.status})
        flash(f"申请 {item.number}：{item.status_label}", "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/approve/<int:pk>", methods=["POST"])
    @has_access
    def approve(self, pk):
        return self._decide(pk, True)

    @expose("/reject/<int:pk>", methods=["POST"])
    @has_access
    def reject(self, pk):
        return self._decide(pk, False)


class ReasonForm(FlaskForm):
    reason = TextAreaField("查看原因", validators=[
        DataRequired(message="请说明查看完整信息的原因"),
        Length(min=4, max=200, message="原因须为4至200个字")])


class RetireeUnmaskView(BaseView):
    """PIPL: one person's full ID number and phone, for a stated reason, audited."""

    route_base = "/retiree-unmask"
    default_view = "unmask"

    @expose("/<int:pk>", methods=["GET", "POST"])
    @has_access
    def unmask(self, pk):
        from core.registry.models import Retiree

        person = db.session.get(Retiree, pk)
        if person is None:
            abort(404)
        form = ReasonForm()
        shown = None
        if form.validate_on_submit():
            record("unmask", object_type="Retiree", object_id=pk,
                   detail={"reason": form.reason.data.strip(), "fields": ["id_card_no", "phone"]})
            shown = {"id_card_no": person.id_card_no, "phone": person.phone}
        return self.render_template("ra_unmask.html", form=form, person=person, shown=shown)


def register(appbuilder) -> None:
    appbuilder.add_view(ReleaseRequestView, "数据提供申请", category="数据安全",
                        icon="fa-share-square-o", category_icon="fa-lock")
    appbuilder.add_view_no_menu(RetireeUnmaskView)
