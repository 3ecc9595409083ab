"""REST APIs of the Industrial Park plugin, under ``/api/v1/``, with the screens' rules."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe

from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.views.base import ScopedModelRestApi, actor_name, interface
from districts.industrial_park import agreements, residents
from districts.industrial_park.models import (
    ParkAgreement,
    ParkAgreementDuty,
    ParkAgreementOriginal,
    ParkAgreementVersion,
    ParkResident,
)
from districts.industrial_park.screens import LABELS, VERSION_EDIT

READ = {"get", "get_list", "info"}
VERSION_COLUMNS = ["id", "agreement.id", "version_no", "status", "basis", "revision_reason",
                   "party_a_name", "party_a_unit_no", *VERSION_EDIT, "effective_from",
                   "superseded_on", "created_by", "updated_by"]


class ParkAgreementApi(ScopedModelRestApi):
    """``/api/v1/park_agreement/`` (P1); ``POST /<pk>/new_version`` makes a new version
    after a policy change (P4)."""

    resource_name = "park_agreement"
    datamodel = interface(ParkAgreement)
    allow_browser_login = True
    include_route_methods = READ | {"post", "new_version"}
    list_columns = ["id", "agreement_no", "enterprise.id", "enterprise.name",
                    "enterprise.unit_no", "current_label"]
    show_columns = [*list_columns, "versions.id", "created_by"]
    add_columns = ["enterprise", "agreement_no"]
    search_columns = ["agreement_no", "enterprise"]
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_agreement(db.session, item, actor_name())

    @expose("/<int:pk>/new_version", methods=["POST"])
    @protect()
    @safe
    def new_version(self, pk):
        """P4: body ``{"revision_reason": …, "basis": …}``; answers 201 with the new
        version's id, 422 with the reasons it was refused."""
        item = self.datamodel.get(pk)
        if item is None:
            return self.response_404()
        body = request.get_json(silent=True) or {}
        try:
            agreements.park_actor_check()
            version = agreements.new_version(db.session, item, body.get("revision_reason"),
                                             body.get("basis"), actor_name())
            db.session.commit()
        except (RuleViolations, RuleViolation) as exc:
            db.session.rollback()
            exc = exc if isinstance(exc, RuleViolations) else RuleViolations([exc])
            return self.response_422(message=exc.by_field())
        except ScopeViolation as exc:
            db.session.rollback()
            return self.response(403, message=exc.message)
        return self.response(201, id=version.id, version_no=version.version_no)


class ParkAgreementVersionApi(ScopedModelRestApi):
    """``/api/v1/park_agreement_version/`` (P4): fill in and sign a draft version."""

    resource_name = "park_agreement_version"
    datamodel = interface(ParkAgreementVersion)
    allow_browser_login = True
    include_route_methods = READ | {"put"}
    list_columns = ["id", "agreement.id", "version_no", "status", "party_a_name",
                    "effective_from", "superseded_on"]
    show_columns = [*VERSION_COLUMNS, "duties.id", "originals.id"]
    edit_columns = VERSION_EDIT
    search_columns = ["agreement", "status", "version_no"]
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_version(db.session, item, actor_name())


class ParkAgreementDutyApi(ScopedModelRestApi):
    """``/api/v1/park_agreement_duty/`` (P2, P3): the duty checklists."""

    resource_name = "park_agreement_duty"
    datamodel = interface(ParkAgreementDuty)
    allow_browser_login = True
    include_route_methods = READ | {"put"}
    list_columns = ["id", "version.id", "party", "item_no", "text", "status", "done_on"]
    show_columns = [*list_columns, "notes", "updated_by"]
    edit_columns = ["status", "done_on", "notes", "text"]
    search_columns = ["version", "party", "status"]
    base_order = ("id", "asc")
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_duty(item, actor_name())


class ParkAgreementOriginalApi(ScopedModelRestApi):
    """``/api/v1/park_agreement_original/`` (P4): the three originals."""

    resource_name = "park_agreement_original"
    datamodel = interface(ParkAgreementOriginal)
    allow_browser_login = True
    include_route_methods = READ | {"put"}
    list_columns = ["id", "version.id", "copy_no", "holder", "filed", "delivered_on",
                    "received_by", "archive_ref"]
    show_columns = [*list_columns, "updated_by"]
    edit_columns = ["delivered_on", "received_by", "archive_ref"]
    search_columns = ["version", "holder", "filed"]
    base_order = ("id", "asc")
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        agreements.park_actor_check()
        agreements.prepare_original(item, actor_name())


class ParkResidentApi(ScopedModelRestApi):
    """``/api/v1/park_resident/`` (A45): assign a Park community to a listed person."""

    resource_name = "park_resident"
    datamodel = interface(ParkResident)
    allow_browser_login = True
    include_route_methods = READ | {"put"}
    list_columns = ["id", "retiree_id", "name", "personal_no", "residence_address",
                    "community.id", "community.name", "status", "listed_on"]
    show_columns = [*list_columns, "phone", "assigned_on", "assigned_by", "ended_on",
                    "end_reason", "notes"]
    edit_columns = ["community", "notes"]
    search_columns = ["name", "personal_no", "status", "community"]
    base_order = ("id", "asc")
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        residents.prepare(item, actor_name())


ALL = [ParkAgreementApi, ParkAgreementVersionApi, ParkAgreementDutyApi,
       ParkAgreementOriginalApi, ParkResidentApi]
