"""Screens of the Industrial Park plugin: the Park agreement with its versions, duty
checklists and originals (P1–P4), and the service list of A45."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core.errors import RuleViolations
from core.extensions import db
from core.regions import Region, region_by_code
from core.registry.models import Enterprise
from core.scoping import unscoped
from core.views.base import ScopedModelView, actor_name, interface, violation_text
from districts.industrial_park import agreements, residents
from districts.industrial_park.models import (
    ParkAgreement,
    ParkAgreementDuty,
    ParkAgreementOriginal,
    ParkAgreementVersion,
    ParkResident,
)
from districts.industrial_park.pdf import agreement_pdf
from districts.industrial_park.texts import BASIS, DUTY_STATUS, PARK, PARTY_B

LABELS = {
    "agreement": "协议", "agreement_no": "协议编号", "enterprise": "甲方（参保单位）",
    "unit_no": "单位编号", "current_label": "现行版本", "version_no": "版本",
    "status": "状态", "status_label": "状态", "basis": "政策依据", "revision_reason": "修订原因",
    "party_a_name": "甲方", "party_a_unit_no": "单位编号",
    "party_a_representative": "甲方代表", "party_a_phone": "甲方联系电话",
    "party_a_signed_on": "甲方签订日期", "party_a_signed": "甲方代表已签字",
    "party_a_stamped": "甲方已盖章", "party_b_name": "乙方",
    "party_b_representative": "乙方代表", "party_b_phone": "乙方联系电话",
    "party_b_signed_on": "乙方签订日期", "party_b_signed": "乙方代表已签字",
    "party_b_stamped": "乙方已盖章", "effective_from": "生效日期", "superseded_on": "失效日期",
    "version": "协议版本", "party": "义务方", "party_label": "义务方", "item_no": "条款",
    "text": "义务和责任", "done_on": "落实日期", "notes": "备注", "copy_no": "正本序号",
    "holder": "持有方", "holder_label": "持有方", "filed": "存档",
    "delivered_on": "交付日期", "received_by": "接收人", "archive_ref": "存档编号",
    "name": "姓名", "personal_no": "个人编号", "residence_address": "现居住地", "phone": "联系电话",
    "phone_masked": "联系电话",
    "community": "服务社区", "listed_on": "列入日期", "assigned_on": "分配日期",
    "assigned_by": "分配人", "ended_on": "结束日期", "end_reason": "结束原因",
    "created_by": "登记人", "created_at": "登记时间", "updated_by": "修改人",
    "updated_at": "修改时间",
}
PARTY_A = ["party_a_representative", "party_a_phone", "party_a_signed_on", "party_a_signed",
           "party_a_stamped"]
PARTY_B_FIELDS = ["party_b_name", "party_b_representative", "party_b_phone", "party_b_signed_on",
           "party_b_signed", "party_b_stamped"]
VERSION_EDIT = ["basis", "revision_reason", *PARTY_A, *PARTY_B_FIELDS]


def park_enterprise_ids() -> list[int]:
    """P1: the units registered in the Park (the drop-down of a new agreement)."""
    with unscoped():
        park = region_by_code(db.session, PARK)
        return list(db.session.scalars(select(Enterprise.id).where(
            Enterprise.district_id == (park.id if park else -1))))


def park_community_ids() -> list[int]:
    with unscoped():
        park = region_by_code(db.session, PARK)
        if park is None:
            return []
        return list(db.session.scalars(select(Region.id).where(
            Region.level == "community", Region.region_path.startswith(park.region_path))))


def pdf_response(version: ParkAgreementVersion) -> Response:
    return Response(agreement_pdf(version), mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=park-agreement-{version.id}.pdf",
        "Cache-Control": "no-store"})


class ParkAgreementDutyView(ScopedModelView):
    """P2, P3: the duty checklists; the status of each duty is kept up to date."""

    datamodel = interface(ParkAgreementDuty)
    route_base = "/park-agreement-duty"
    list_title = "园区协议义务落实清单"
    base_permissions = ["can_list", "can_show", "can_edit"]
    list_columns = ["version", "party_label", "item_no", "text", "status_label", "done_on"]
    show_columns = ["version", "party_label", "item_no", "text", "status_label", "done_on",
                    "notes", "updated_by", "updated_at"]
    edit_columns = ["status", "done_on", "notes", "text"]
    search_columns = ["version", "party", "status"]
    base_order = ("id", "asc")
    label_columns = LABELS
    description_columns = {"text": "协议签订后条款不能修改",
                           "done_on": "已落实时填写，默认当天"}

    def __init__(self, *args, **kwargs):
        self.edit_form_extra_fields = {"status": SelectField(
            LABELS["status"], choices=list(DUTY_STATUS.items()), widget=Select2Widget())}
        super().__init__(*args, **kwargs)

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_duty(item, actor_name())


class ParkAgreementOriginalView(ScopedModelView):
    """P4: the three originals of each version and where they went."""

    datamodel = interface(ParkAgreementOriginal)
    route_base = "/park-agreement-original"
    list_title = "园区协议正本"
    base_permissions = ["can_list", "can_show", "can_edit"]
    list_columns = ["version", "copy_no", "holder_label", "delivered_on", "received_by",
                    "archive_ref"]
    show_columns = [*list_columns, "updated_by"]
    edit_columns = ["delivered_on", "received_by", "archive_ref"]
    search_columns = ["version", "holder", "filed"]
    base_order = ("id", "asc")
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_original(item, actor_name())


class ParkAgreementVersionView(ScopedModelView):
    """P4: the versions of each agreement. A draft is filled in and signed; a version in
    force or superseded is kept as signed."""

    datamodel = interface(ParkAgreementVersion)
    route_base = "/park-agreement-version"
    list_title = "园区协议版本"
    show_title = "园区协议版本"
    edit_title = "填写签订情况"
    base_permissions = ["can_list", "can_show", "can_edit", "can_print"]
    list_columns = ["agreement", "version_no", "party_a_name", "status_label",
                    "effective_from", "superseded_on"]
    show_fieldsets = [
        ("协议", {"fields": ["agreement", "version_no", "status_label", "basis",
                           "revision_reason", "effective_from", "superseded_on"]}),
        ("甲方（参保单位）", {"fields": ["party_a_name", "party_a_unit_no", *PARTY_A]}),
        ("乙方", {"fields": PARTY_B_FIELDS}),
        ("登记", {"fields": ["created_by", "created_at", "updated_by", "updated_at"]}),
    ]
    edit_columns = VERSION_EDIT
    edit_fieldsets = [
        ("协议", {"fields": ["basis", "revision_reason"]}),
        ("甲方（参保单位）", {"fields": PARTY_A}),
        ("乙方", {"fields": PARTY_B_FIELDS}),
    ]
    search_columns = ["agreement", "status", "effective_from"]
    base_order = ("id", "desc")
    label_columns = LABELS
    description_columns = {
        "party_b_stamped": "双方代表签字、盖章并填写联系电话和日期后，本版本自较晚的签订日期起生效",
    }
    related_views = [ParkAgreementDutyView, ParkAgreementOriginalView]
    show_template = "park_version_show.html"

    def __init__(self, *args, **kwargs):
        # Blank means the standard text (filled in by the rules), not a form error.
        self.edit_form_extra_fields = {
            "basis": StringField(LABELS["basis"], default=BASIS,
                                 validators=[Optional(), Length(max=100)]),
            "party_b_name": StringField(LABELS["party_b_name"], default=PARTY_B,
                                        validators=[Optional(), Length(max=100)]),
        }
        super().__init__(*args, **kwargs)

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_version(db.session, item, actor_name())

    @expose("/print/<int:pk>")
    @has_access
    def print(self, pk):
        version = self.datamodel.get(pk)
        if version is None:
            abort(404)
        return pdf_response(version)


class NewVersionForm(FlaskForm):
    revision_reason = TextAreaField("修订原因（政策调整）",
                                    validators=[DataRequired(message="请填写修订原因")])
    basis = StringField("政策依据", default=BASIS)


class ParkAgreementView(ScopedModelView):
    """P1: the agreements of Park units with the Park's service centre."""

    datamodel = interface(ParkAgreement)
    route_base = "/park-agreement"
    list_title = "园区社会化管理协议书"
    show_title = "园区社会化管理协议书"
    add_title = "新签园区协议"
    base_permissions = ["can_list", "can_show", "can_add", "can_new_version"]
    list_columns = ["agreement_no", "enterprise", "unit_no", "current_label"]
    show_columns = ["agreement_no", "enterprise", "unit_no", "current_label", "created_by",
                    "created_at"]
    add_columns = ["enterprise", "agreement_no"]
    search_columns = ["agreement_no", "enterprise"]
    base_order = ("id", "desc")
    label_columns = LABELS
    description_columns = {"enterprise": "注册在工业园区的参保单位；保存后生成第1版，填写双方签订情况"}
    add_form_query_rel_fields = {"enterprise": [["id", FilterInFunction, park_enterprise_ids]]}
    related_views = [ParkAgreementVersionView]
    show_template = "park_agreement_show.html"

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_agreement(db.session, item, actor_name())

    @expose("/new-version/<int:pk>", methods=["GET", "POST"])
    @has_access
    def new_version(self, pk):
        """P4: a new version after a policy change; the old ones stay on file."""
        item = self.datamodel.get(pk)
        if item is None:
            abort(404)
        form = NewVersionForm()
        if form.validate_on_submit():
            try:
                agreements.park_actor_check()
                version = agreements.new_version(db.session, item, form.revision_reason.data,
                                                 form.basis.data, actor_name())
                db.session.commit()
            except RuleViolations as exc:
                db.session.rollback()
                flash(violation_text(exc), "danger")
            else:
                flash(f"已新建第{version.version_no}版，请填写双方签订情况", "success")
                return redirect(url_for("ParkAgreementVersionView.edit", pk=version.id))
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return self.render_template("park_new_version.html", form=form, item=item,
                                    cancel=url_for(".show", pk=pk))


class ParkResidentView(ScopedModelView):
    """A45: city/district retirees living in the Park and the Park community serving
    each. The Park's centre assigns the community; the community then sees the person."""

    datamodel = interface(ParkResident)
    route_base = "/park-resident"
    list_title = "园区居住的市、区企业退休人员"
    base_permissions = ["can_list", "can_show", "can_edit", "can_build"]
    list_columns = ["name", "personal_no", "residence_address", "community", "status_label",
                    "listed_on"]
    show_columns = ["name", "personal_no", "residence_address", "phone_masked", "community",
                    "status_label", "listed_on", "assigned_on", "assigned_by", "ended_on",
                    "end_reason", "notes"]
    edit_columns = ["community", "notes"]
    search_columns = ["name", "personal_no", "status", "community"]
    base_order = ("id", "asc")
    label_columns = LABELS
    edit_form_query_rel_fields = {"community": [["id", FilterInFunction, park_community_ids]]}
    list_template = "park_resident_list.html"

    def prepare_item(self, item, is_new: bool) -> None:
        residents.prepare(item, actor_name())

    @expose("/build", methods=["POST"])
    @has_access
    def build(self):
        counts = residents.build()
        flash(f"名单已更新：新增{counts['added']}人，结束{counts['ended']}人", "success")
        return redirect(url_for(".list"))
