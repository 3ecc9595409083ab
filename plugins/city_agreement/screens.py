"""Screens and REST API of the city agreement (A12)."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from core.downloads import download_response
from core.extensions import db
from core.views.base import ScopedModelRestApi, ScopedModelView, actor_name, interface
from plugins.city_agreement.agreements import LABELS, check
from plugins.city_agreement.models import CITY_CENTRE, STATUS, CityAgreement
from plugins.city_agreement.pdf import agreement_pdf

COLUMNS = ["enterprise", "document_no", "status", "signed_on", "party_a_representative",
           "party_a_phone", "party_b_name", "party_b_representative", "party_b_phone",
           "terminated_on", "termination_reason", "notes"]


class CityAgreementView(ScopedModelView):
    """A12: agreements of enterprises with the city service centre, with the printed
    copy. No delete: an agreement ends by termination and stays on file."""

    datamodel = interface(CityAgreement)
    route_base = "/city-agreement"
    list_title = "社会化管理协议（市退管中心）"
    show_title = "社会化管理协议"
    add_title = "登记社会化管理协议"
    edit_title = "修改社会化管理协议"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_print"]
    list_columns = ["document_no", "enterprise", "unit_no", "status_label", "signed_on",
                    "terminated_on"]
    search_columns = ["document_no", "enterprise", "status", "signed_on"]
    order_columns = ["document_no", "signed_on"]
    base_order = ("id", "desc")
    add_columns = COLUMNS
    edit_columns = COLUMNS
    show_columns = [*[c for c in COLUMNS if c != "status"], "unit_no", "status_label",
                    "created_by", "created_at", "updated_by", "updated_at"]
    label_columns = LABELS
    description_columns = {
        "status": "签订后协议内容不能修改；终止须填写终止日期和原因",
        "signed_on": "协议自签订之日起有效（企业退休人员纳入社会化管理前须已签订）",
    }
    show_template = "ca_agreement_show.html"

    def __init__(self, *args, **kwargs):
        status = SelectField(LABELS["status"], choices=list(STATUS.items()),
                             widget=Select2Widget(), default="draft")
        party_b = StringField(LABELS["party_b_name"], default=CITY_CENTRE,
                              validators=[Optional(), Length(max=100)])
        self.add_form_extra_fields = {"status": status, "party_b_name": party_b}
        self.edit_form_extra_fields = {"status": status, "party_b_name": party_b}
        super().__init__(*args, **kwargs)

    def prepare_item(self, item, is_new: bool) -> None:
        check(db.session, item, actor_name(), is_new)

    @expose("/print/<int:pk>")
    @has_access
    def print(self, pk):
        item = self.datamodel.get(pk)
        if item is None:
            abort(404)
        return download_response(agreement_pdf(item), f"社会化管理协议-{item.document_no}.pdf",
                                 f"city-agreement-{item.id}.pdf", "application/pdf",
                                 inline=True)


class CityAgreementApi(ScopedModelRestApi):
    """``/api/v1/city_agreement/``: the same records and rules over REST."""

    resource_name = "city_agreement"
    datamodel = interface(CityAgreement)
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "put", "info"}
    list_columns = ["id", "document_no", "enterprise.id", "enterprise.name", "enterprise.unit_no",
                    "status", "signed_on", "terminated_on"]
    show_columns = ["id", *[c for c in COLUMNS if c != "enterprise"], "enterprise.id",
                    "enterprise.name", "enterprise.unit_no", "created_by", "updated_by"]
    add_columns = COLUMNS
    edit_columns = COLUMNS
    search_columns = ["document_no", "enterprise", "status", "signed_on"]
    order_columns = ["id", "document_no", "signed_on"]
    base_order = ("id", "desc")
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        check(db.session, item, actor_name(), is_new)
