"""The audit screen for the audit administrator: list with filters, detail, xlsx export
of the filtered trail. Read-only: the view has no add, edit or delete, and there is no
API (FAB_NOTES: a ModelView's permissions are its base_permissions)."""
from __future__ import annotations

import json
import os
import tempfile

from flask import current_app
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
from core.views.base import display_value

LABELS = {"seq": "序号", "at": "时间", "actor": "操作人", "ip": "IP地址", "action": "操作",
          "action_label": "操作", "object_type": "对象类型", "object_id": "对象编号",
          "outcome": "结果", "outcome_label": "结果", "detail": "详情", "hash": "校验值",
          "prev_hash": "前序校验值"}
EXPORT_COLUMNS = ["seq", "at", "actor", "ip", "action", "action_label", "object_type",
                  "object_id", "outcome", "detail", "hash"]
EXPORT_HEADERS = LABELS | {"action": "操作代码", "action_label": "操作名称"}


# What FAB's screens call the request's page (``AuditEntryView.list``).
METHOD_LABELS = {"list": "列表", "show": "详情", "add": "新增", "edit": "修改", "delete": "删除",
                 "api": "接口", "get": "查询", "get_list": "查询", "post": "新增", "put": "修改"}
OBJECT_LABELS = {"RegionUser": "用户", "Role": "角色", "audit_entry": "审计日志",
                 "Retiree": "退休人员", "ReleaseRequest": "数据提供申请",
                 "PluginSetting": "插件启用设置", "PluginChange": "插件变更记录"}
HTTP_METHODS = {"GET": "查看", "POST": "提交", "PUT": "修改", "DELETE": "删除"}


def _view_title(view) -> str | None:
    for name in ("list_title", "show_title"):
        title = getattr(view, name, None)
        if title and not str(title).isascii():
            return str(title)
    return None


def object_type_label(value) -> str:
    """Issue 14 item 5: an audit entry's object type in Chinese — a model by the title of
    the screen that lists it, a page (``View.method``) by its screen's title."""
    if not value:
        return "—"
    if value in OBJECT_LABELS:
        return OBJECT_LABELS[value]
    view_name, _, method = value.partition(".")
    for view in current_app.appbuilder.baseviews:
        datamodel = getattr(view, "datamodel", None)
        if method and type(view).__name__ == view_name:
            title = _view_title(view) or view_name
            return f"{title}（{METHOD_LABELS.get(method, '操作')}）"
        if not method and datamodel is not None and datamodel.obj.__name__ == value:
            title = _view_title(view)
            if title:
                return title
    return value


DETAIL_KEYS = {"method": "请求方式", "path": "网址", "status": "状态码", "rows": "行数",
               "reason": "原因", "fields": "字段", "enabled": "启用", "via": "方式",
               "username": "登录名", "release": "数据提供申请", "number": "编号", "job": "任务",
               "health": "健康信息", "decision": "决定", "removed": "删除条数", "days": "天数",
               "plugin": "插件", "region": "区域", "roles": "角色"}
ACTORS = {"cli": "命令行", "system": "系统"}


def _column_labels() -> dict[str, str]:
    """The Chinese label of every column name any screen labels (first one wins)."""
    labels: dict[str, str] = {}
    for view in current_app.appbuilder.baseviews:
        for key, label in (getattr(view, "label_columns", None) or {}).items():
            if not str(label).isascii():
                labels.setdefault(key, str(label))
    return labels


def detail_label(value) -> str:
    """Issue 14 item 5: an entry's detail (JSON) as "名称：值" in Chinese; a change as
    "旧值 → 新值"."""
    if not value:
        return "—"
    try:
        data = json.loads(value)
    except ValueError:
        return value
    if not isinstance(data, dict):
        return value
    names = _column_labels() | DETAIL_KEYS

    def shown(v):
        if isinstance(v, list) and len(v) == 2 and not isinstance(v[0], (list, dict)):
            return f"{shown(v[0])} → {shown(v[1])}"
        if isinstance(v, list):
            return "、".join(str(shown(x)) for x in v)
        if isinstance(v, dict):
            return "，".join(f"{names.get(k, k)}：{shown(x)}" for k, x in v.items())
        return display_value(v)
    return "；".join(f"{names.get(k, k)}：{HTTP_METHODS.get(v, v) if k == 'method' else shown(v)}"
                    for k, v in data.items())


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
    show_columns = ["seq", "at", "actor", "ip", "action_label", "object_type",
                    "object_id", "outcome_label", "detail", "prev_hash", "hash"]
    search_columns = ["at", "actor", "ip", "action", "object_type", "object_id", "outcome"]
    order_columns = ["seq", "at", "actor", "action"]
    base_order = ("seq", "desc")
    label_columns = LABELS
    list_template = "ra_audit_list.html"
    formatters_columns = {c: display_value for c in ("at", "ip", "object_id")} | {
        "object_type": object_type_label, "detail": detail_label,
        "actor": lambda v: ACTORS.get(v, v)}

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
