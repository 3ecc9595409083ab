"""REST APIs of the Industrial Park plugin, under ``/api/v1/``, with the screens' rules."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe

from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.views.base import (
    MAX_ID,
    NOT_AN_OBJECT,
    ScopedModelRestApi,
    actor_name,
    interface,
    request_object,
    text_violations,
)
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
        """Make a new version of the agreement after a policy change (P4)
        ---
        post:
          description: >-
            By the Park's district staff or the city. The new version starts as a draft
            with the latest version's parties and duties; the version in force stays in
            force until both parties have signed the new one. Refused while the latest
            version is still a draft.
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
                  required: [revision_reason]
                  properties:
                    revision_reason:
                      type: string
                      maxLength: 300
                      description: The policy change (its document or content)
                    basis:
                      type: string
                      nullable: true
                      maxLength: 100
                      description: The latest version's basis when left out
          responses:
            201:
              description: The new version, a draft
              content:
                application/json:
                  schema:
                    type: object
                    required: [id, version_no]
                    properties:
                      id:
                        type: integer
                        description: The new version's id
                      version_no:
                        type: integer
            404:
              $ref: '#/components/responses/404'
        """
        item = self.datamodel.get(pk) if pk <= MAX_ID else None
        if item is None:
            return self.response_404()
        body = request_object()
        if body is None:
            return self.response_400(message=NOT_AN_OBJECT)
        try:
            wrong = text_violations(body, {"revision_reason": 300, "basis": 100})
            if wrong:
                raise RuleViolations(wrong)
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
    show_columns = [*list_columns, "phone_masked", "assigned_on", "assigned_by", "ended_on",
                    "end_reason", "notes"]
    edit_columns = ["community", "notes"]
    search_columns = ["name", "personal_no", "status", "community"]
    base_order = ("id", "asc")
    label_columns = LABELS

    def prepare_item(self, item, is_new: bool) -> None:
        residents.prepare(item, actor_name())


ALL = [ParkAgreementApi, ParkAgreementVersionApi, ParkAgreementDutyApi,
       ParkAgreementOriginalApi, ParkResidentApi]
