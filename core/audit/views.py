"""The audit screen for the audit administrator: list with filters, detail, xlsx export
of the filtered trail. Read-only: the view has no add, edit or delete, and there is no
API (FAB_NOTES: a ModelView's permissions are its base_permissions)."""
from __future__ import annotations

import os
import tempfile

from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import get_filter_args
from sqlalchemy import or_

from core.audit.models import AuditEntry
from core.audit.trail import record
from core.downloads import today_stamp
from core.extensions import db
from core.release.files import send_temporary

LABELS = {"seq": "序号", "at": "时间", "actor": "操作人", "ip": "IP地址", "action": "操作",
          "action_label": "操作", "object_type": "对象类型", "object_id": "对象编号",
          "outcome": "结果", "outcome_label": "结果", "detail": "详情", "hash": "校验值",
          "prev_hash": "前序校验值"}
EXPORT_COLUMNS = ["seq", "at", "actor", "ip", "action", "action_label", "object_type",
                  "object_id", "outcome", "detail", "hash"]
EXPORT_HEADERS = LABELS | {"action": "操作代码", "action_label": "操作名称"}


class FilterActionLabel(BaseFilter):
    """The auditor filters by the Chinese name of an action (“打印完整登记表”) or part
    of it, or by the start of its code (“person.print”) (issue #12 item 5)."""

    name = "操作名称或代码"
    arg_name = "ra_act"

    def apply(self, query, value):
        text = (value or "").strip()
        if not text:
            return query
        codes = [code for code, label in AuditEntry.ACTIONS.items()
                 if text in label or code.startswith(text)]
        return query.filter(or_(AuditEntry.action.in_(codes),
                                AuditEntry.action.startswith(text, autoescape=True)))


class AuditEntryView(ModelView):
    datamodel = SQLAInterface(AuditEntry, db.session)
    route_base = "/audit"
    list_title = "安全审计日志"
    show_title = "审计记录"
    base_permissions = ["can_list", "can_show", "can_export"]
    list_columns = ["seq", "at", "actor", "ip", "action_label", "object_type", "object_id",
                    "outcome_label"]
    show_columns = ["seq", "at", "actor", "ip", "action", "action_label", "object_type",
                    "object_id", "outcome", "detail", "prev_hash", "hash"]
    search_columns = ["at", "actor", "ip", "action", "object_type", "object_id", "outcome"]
    order_columns = ["seq", "at", "actor", "action"]
    base_order = ("seq", "desc")
    label_columns = LABELS
    list_template = "ra_audit_list.html"

    def _init_properties(self) -> None:
        super()._init_properties()
        # The action's first filter (``_flt_0_action``): FAB resolves ``_flt_<n>_`` with
        # a one-digit n, so one appended after the ten defaults would be unreachable
        # (as in core.views.base.ScopedModelView).
        filters = self._filters
        for store in ("_search_filters", "_all_filters"):
            kinds = dict(getattr(filters, store))
            kinds["action"] = [FilterActionLabel("action", self.datamodel),
                               *kinds.get("action", [])]
            setattr(filters, store, kinds)

    @expose("/export/")
    @has_access
    def export(self):
        """The filtered trail as xlsx; text cells neutralised against formula injection."""
        from openpyxl import Workbook

        from core.xlsx import safe_row

        get_filter_args(self._filters)
        query = self.datamodel.apply_all(
            self.datamodel.session.query(AuditEntry), self._filters,
            order_column="seq", order_direction="asc")
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("审计日志")
        ws.append(safe_row(EXPORT_HEADERS[c] for c in EXPORT_COLUMNS))
        count = 0
        for e in query.yield_per(2000):
            ws.append(safe_row(getattr(e, c) for c in EXPORT_COLUMNS))
            count += 1
        fd, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        wb.save(path)
        record("audit.export", object_type="audit_entry", detail={"rows": count})
        return send_temporary(path, f"审计日志-{today_stamp()}.xlsx", f"audit-{today_stamp()}.xlsx")


def register(appbuilder) -> None:
    appbuilder.add_view(AuditEntryView, "审计日志", category="安全审计",
                        icon="fa-history", category_icon="fa-shield")
