"""Base classes for every scoped screen and API, core's and plugins'.

The session listeners in ``core.scoping`` already limit every query and refuse every
out-of-scope write. These classes turn that into proper answers on the paths FAB leaves
open (FAB_NOTES): a list action on an out-of-scope id answers 404, not 500; a REST
POST/PUT naming an out-of-scope or unknown related id answers 422 before marshmallow
builds a phantom row; rule violations answer 422 with a Chinese message per field, a
scope violation 403; nothing is written in either case.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import threading

from flask import abort, flash, g, redirect, request
from flask_appbuilder import ModelView, expose, has_access, permission_name
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import get_column_root_relation, is_column_dotted
from sqlalchemy import UniqueConstraint, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import MANYTOONE, RelationshipProperty
from sqlalchemy.orm.attributes import set_committed_value

from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.registry import fields as registry_fields
from core.scoping import unscoped
from core.views.coded import coded_filters, coded_search_field, column_choices
from core.views.filters import CheckedFilterConverter, CheckedFilters, RequestFilters
from core.views.lookup import (
    FilterLookupText,
    lookup_answer,
    lookup_form_fields,
    lookup_relations,
    lookup_search_fields,
    related_rows,
)
from core.views.messages import ChineseSchemaMessages
from core.views.openapi import DocumentedModelRestApi
from core.views.search import KeptSearchWidget

MAX_ID = 2**31 - 1  # the largest value of an Integer primary key on PostgreSQL
NOT_AN_OBJECT = "请求内容须为JSON对象"
SURROGATES = re.compile(r"[\ud800-\udfff]")  # lone halves of a pair: no encoding stores them


COUNT_EXACT_UP_TO = 1_000


class CappedCount(int):
    """A row count that stopped at ``COUNT_EXACT_UP_TO + 1``: arithmetic (the pager) uses
    the number, a page shows "超过10,000"."""

    def __str__(self) -> str:
        return f"超过{COUNT_EXACT_UP_TO:,}"


FAB_400_MESSAGES = (
    ("Not a valid rison schema", "查询参数q的结构不符合要求"),
    ("Not a valid rison", "查询参数q无法解析，须为rison或JSON"),
    ("Request is not JSON", "请求内容须为JSON"),
)


# Every coded value of the registry (core.registry.fields) with its Chinese label: a list or
# show column a view gives no formatter prints a code as the clerk's word.
CODE_LABELS: dict[str, str] = {}
for _table in ("GENDER", "RETIREMENT_TYPE", "BENEFIT", "CATEGORY", "RESIDENCE_TYPE",
               "FAMILY_STATUS", "SERIOUS_ILLNESS", "MANAGEMENT_STATE", "POLITICAL_STATUS",
               "ENTERPRISE_STATUS"):
    CODE_LABELS.update(getattr(registry_fields, _table))
EMPTY = "—"
# FAB's titles for a view without its own: "Add Merger Date" -> "新增…"
FAB_TITLES = {"list_title": ("List ", "{}"), "add_title": ("Add ", "新增{}"),
              "edit_title": ("Edit ", "修改{}"), "show_title": ("Show ", "{}详情")}


def display_value(value):
    """Issue 14 item 4: how a screen prints a value no view formats itself — nothing as
    "—", a box as 是/否, a moment to the minute, a registry code as its label. The
    default formatter of every list and show column of ``ScopedModelView``."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str):
        return CODE_LABELS.get(value, value)
    return value


def actor_name() -> str:
    user = g.get("ra_user") or g.get("user")
    return getattr(user, "username", None) or "system"


def request_object() -> dict | None:
    """The request's JSON object; None if the body is none (not JSON, another JSON value,
    or JSON too deeply nested to decode)."""
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        return None
    return payload if isinstance(payload, dict) else None


def text_violations(values: dict, limits: dict[str, int | None]) -> list[RuleViolation]:
    """A refusal for each field of ``limits`` present in ``values`` that is neither null
    nor text the database can store: a string of at most its length (``None``: any),
    surrounding blanks not counted, without lone surrogates."""
    found = []
    for key, limit in limits.items():
        value = values.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            found.append(RuleViolation("须为文本", key))
        elif SURROGATES.search(value):
            found.append(RuleViolation("含有无法识别的字符", key))
        elif limit is not None and len(value.strip()) > limit:
            found.append(RuleViolation(f"最多{limit}个字符", key))
    return found


class ScopedInterface(SQLAInterface):
    """SQLAInterface that rolls back and re-raises the platform's own refusals, with
    filters whose values are checked before they reach SQL."""

    filter_converter_class = CheckedFilterConverter

    def query(self, filters=None, order_column="", order_direction="", page=None,
              page_size=None, select_columns=None, outer_default_load=False):
        """FAB's, with the page read before the count: a page that is not full ends the
        list, so the rows before it and its own are the count, exact, and nothing is
        counted. A search that finds a few people (a name) scans the subtree once, not
        twice; only a full page (or one past the end) needs ``query_count``."""
        query = self.session.query(self.obj)
        rows = self.apply_all(query, filters, order_column, order_direction, page, page_size,
                              select_columns, outer_default_load).all()
        if rows and hasattr(rows[0], self.obj.__name__):
            rows = [getattr(row, self.obj.__name__) for row in rows]
        if not page_size:
            return len(rows), rows
        if 0 < len(rows) < page_size or (not rows and not page):
            return (page or 0) * page_size + len(rows), rows
        return self.query_count(query, filters, select_columns), rows

    def query_count(self, query, filters=None, select_columns=None) -> int:
        """Issue 7: no COUNT(*) over the whole subtree on every list page. Rows are
        counted up to ``COUNT_EXACT_UP_TO`` (a bounded scan, cheap on the scope index);
        beyond that the answer is ``CappedCount`` — shown as "超过1,000" on the screens,
        ``1001`` in the API's ``count`` — and a filter narrows the list."""
        limited = self._apply_inner_all(query, filters, select_columns=select_columns,
                                        aliases_mapping={}).limit(COUNT_EXACT_UP_TO + 1)
        count = limited.count()
        return CappedCount(count) if count > COUNT_EXACT_UP_TO else count

    def get_filters(self, search_columns=None, search_filters=None) -> CheckedFilters:
        return CheckedFilters(self.filter_converter_class, self,
                              search_columns=search_columns or [],
                              search_filters=search_filters)

    def get_values(self, lst, list_columns):
        self._load_references(lst, list_columns)
        return super().get_values(lst, list_columns)

    def _load_references(self, rows, columns) -> None:
        """The many-to-one references a list shows, read in one query each for the page's
        rows: FAB reads them one by one, a query per distinct community on a page."""
        mapper = sa_inspect(self.obj)
        for name in {c.split(".")[0] for c in columns if isinstance(c, str)}:
            relation = mapper.relationships.get(name)
            if relation is None or relation.direction is not MANYTOONE \
                    or list(relation.remote_side) != list(relation.mapper.primary_key):
                continue
            key = mapper.get_property_by_column(next(iter(relation.local_columns))).key
            ids = {getattr(row, key) for row in rows} - {None}
            target = relation.mapper
            pk = target.get_property_by_column(target.primary_key[0]).key
            found = {getattr(obj, pk): obj for obj in self.session.scalars(
                select(target.class_).where(target.primary_key[0].in_(ids)))} if ids else {}
            for row in rows:
                set_committed_value(row, name, found.get(getattr(row, key)))

    @functools.cached_property
    def _no_filters(self) -> CheckedFilters:
        return self.get_filters()

    def get_inner_filters(self, filters) -> CheckedFilters:
        """FAB's, on a copy of filters built once: FAB converts every column of the model
        into its offered filters on each call, several calls per list page."""
        inner = self._no_filters.fresh()
        if filters:
            inner.add_filter_list([
                (f.column_name, f.__class__, value)
                for f, value in zip(filters.filters, filters.values, strict=True)
                if not is_column_dotted(f.column_name)
                or self.is_relation_many_to_one(get_column_root_relation(f.column_name))
                or self.is_relation_one_to_one(get_column_root_relation(f.column_name))])
        return inner

    def get_related_interface(self, col_name: str):
        """One interface per relation, kept: FAB builds a new one for every option of a
        drop-down it renders (the primary key of each related row)."""
        related = self.__dict__.setdefault("_related_interfaces", {})
        if col_name not in related:
            related[col_name] = super().get_related_interface(col_name)
        return related[col_name]

    def _guard(self, fn, item):
        unique = self._unique_values(item)
        try:
            fn(item)
        except (RuleViolations, RuleViolation, ScopeViolation):
            self.session.rollback()
            raise
        except (IntegrityError, DatabaseException) as exc:
            cause = exc if isinstance(exc, IntegrityError) else exc.__cause__
            if not isinstance(cause, IntegrityError):
                raise
            self.session.rollback()
            raise self._duplicates(unique, item) from exc

    @functools.cached_property
    def _unique_keys(self) -> list[str]:
        """The attributes of the model's single-column unique keys (found once)."""
        mapper = sa_inspect(self.obj)
        table = mapper.local_table
        columns = {c for c in table.columns if c.unique}
        columns |= {next(iter(i.columns)) for i in table.indexes
                    if i.unique and len(i.columns) == 1}
        columns |= {next(iter(c.columns)) for c in table.constraints
                    if isinstance(c, UniqueConstraint) and len(c.columns) == 1}
        return [mapper.get_property_by_column(c).key for c in columns]

    def _unique_values(self, item) -> dict:
        """{attribute: value} of the unique keys, read before the write (a failed edit
        expires the item)."""
        return {key: getattr(item, key, None) for key in self._unique_keys}

    def _duplicates(self, unique: dict, item) -> RuleViolations:
        """The database refused the write (a unique key raced past the checks, or a
        constraint no rule covers): name the fields whose value another row holds."""
        pk = sa_inspect(item).identity
        found = []
        with unscoped():
            for key, value in unique.items():
                if value is None:
                    continue
                query = select(self.obj).where(getattr(self.obj, key) == value)
                if pk:
                    query = query.where(sa_inspect(self.obj).primary_key[0] != pk[0])
                if self.session.execute(query.limit(1)).first():
                    found.append(RuleViolation(f"“{value}”已被其他记录使用，不能重复", key))
        return RuleViolations(found or [RuleViolation("数据与已有记录冲突，未保存，请检查后重试")])

    def add(self, item, commit: bool = True) -> None:
        self._guard(lambda i: super(ScopedInterface, self).add(i, commit), item)

    def edit(self, item, commit: bool = True) -> None:
        self._guard(lambda i: super(ScopedInterface, self).edit(i, commit), item)

    def delete(self, item, commit: bool = True) -> None:
        self._guard(lambda i: super(ScopedInterface, self).delete(i, commit), item)


def interface(model) -> ScopedInterface:
    return ScopedInterface(model, db.session)


def violation_text(exc: Exception) -> str:
    if isinstance(exc, RuleViolations):
        return "；".join(v.message for v in exc.violations)
    return getattr(exc, "message", str(exc))


class ScopedModelView(RequestFilters, ModelView):
    """ModelView whose actions answer 404 for rows outside the user's scope."""

    page_size = 20
    search_filters: dict | None = None
    # {column: {code: label}} searched by label, besides the columns' own ``info``.
    coded_columns: dict[str, dict[str, str]] | None = None
    search_widget = KeptSearchWidget

    def _init_titles(self) -> None:
        """FAB's English default titles ("Add Region") in Chinese, from the view's
        Chinese list title or the model's label."""
        given = {name: getattr(self, name) for name in FAB_TITLES}
        super()._init_titles()
        subject = given["list_title"] or next(
            (t for t in given.values() if t), None) or self.datamodel.obj.__name__
        subject = re.sub(r"(列表|详情|管理)$", "", subject)
        for name, (_english, chinese) in FAB_TITLES.items():
            if not given[name] and not subject.isascii():
                setattr(self, name, chinese.format(subject))

    def _init_properties(self) -> None:
        super()._init_properties()
        # Issue 14 item 4: every column without a formatter of its own prints via
        # ``display_value`` (FAB's templates print the raw value: None, True, codes).
        self.formatters_columns = {
            col: display_value for col in {*self.list_columns, *self.show_columns}
            if isinstance(col, str)} | dict(self.formatters_columns or {})
        self._install_lookups()
        # FAB passes custom search_filters to the REST API only; screens need them too, and
        # first: the URL's ``_flt_<n>_<col>`` is resolved against ``_all_filters`` with a
        # one-digit n, so a filter appended after a column's ten defaults is unreachable.
        if self.search_filters:
            filters = self.datamodel.get_filters(self.search_columns)
            filters._search_filters = dict(filters._search_filters)
            filters._all_filters = dict(filters._all_filters)
            for col, kinds in self.search_filters.items():
                custom = [kind(col, self.datamodel) for kind in kinds]
                filters._search_filters[col] = custom + filters._search_filters.get(col, [])
                filters._all_filters[col] = custom + filters._all_filters.get(col, [])
            self._filters = filters
        self._install_coded_filters()

    def _install_coded_filters(self) -> None:
        """Coded columns (``info["choices"]`` or the view's ``coded_columns``) are searched
        with a drop-down of their Chinese labels and filters that read a code or a label
        (core.views.coded, issue 14 item 6), in place of FAB's text filters."""
        model = self.datamodel.obj
        coded = {col: choices for col in self.search_columns
                 if (choices := (self.coded_columns or {}).get(col)
                     or column_choices(model, col))}
        if not coded:
            return
        filters = self._filters
        filters._search_filters = dict(filters._search_filters)
        filters._all_filters = dict(filters._all_filters)
        for col, choices in coded.items():
            kinds = coded_filters(col, self.datamodel, choices)
            filters._search_filters[col] = filters._all_filters[col] = kinds
        self.search_form_extra_fields = {
            col: coded_search_field(self.label_columns.get(col, col), choices)
            for col, choices in coded.items()} | (self.search_form_extra_fields or {})

    def _install_lookups(self) -> None:
        """References to a ``__lookup__`` model are chosen by typing (core.views.lookup):
        in the add and edit forms and in the search form, unless the view says otherwise
        through its own extra fields or search filters."""
        model = self.datamodel.obj
        forms = lookup_relations(model, [*self.add_columns, *self.edit_columns])
        search = lookup_relations(model, self.search_columns)
        self.lookups = forms | search
        if forms:
            self.add_form_extra_fields = lookup_form_fields(self, "add", forms) | (
                self.add_form_extra_fields or {})
            self.edit_form_extra_fields = lookup_form_fields(self, "edit", forms) | (
                self.edit_form_extra_fields or {})
        if search:
            self.search_form_extra_fields = lookup_search_fields(self, search) | (
                self.search_form_extra_fields or {})
            self.search_filters = {col: [FilterLookupText] for col in search} | (
                self.search_filters or {})

    @expose("/lookup/<column>")
    @has_access
    @permission_name("list")
    def lookup(self, column):
        """Matches for a lookup box as the user types (``?term=``): rows the user's scope
        and the form's (``?form=add|edit``) restrictions on the relation allow."""
        form = request.args.get("form", "add")
        if column not in self.lookups or form not in ("add", "edit"):
            abort(404)
        return lookup_answer(related_rows(self, column, form), request.args.get("term", ""))

    def prepare_item(self, item, is_new: bool) -> None:
        """Validate and normalise before a write; raise RuleViolations to refuse."""

    def pre_add(self, item) -> None:
        self._prepare(item, True)

    def pre_update(self, item) -> None:
        self._prepare(item, False)

    def _prepare(self, item, is_new: bool) -> None:
        try:
            self.prepare_item(item, is_new)
        except (RuleViolations, RuleViolation, ScopeViolation) as exc:
            db.session.rollback()
            raise ValueError(violation_text(exc)) from exc

    def _fetch_in_scope(self, pks):
        items = [self.datamodel.get(self._deserialize_pk_if_composite(pk)) for pk in pks]
        if not items or any(item is None for item in items):
            abort(404, description="未找到所选记录，或记录不在本辖区内")
        return items

    # Overrides must be exposed again, or FAB registers no route for them.
    # An unknown action name is refused before these run (core.views.guards).
    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._fetch_in_scope([pk])
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._fetch_in_scope(request.form.getlist("rowid"))
        try:
            return super().action_post()
        except (RuleViolations, RuleViolation, ScopeViolation) as exc:
            db.session.rollback()
            flash(violation_text(exc), "danger")
            return redirect(request.referrer or self.route_base + "/list/")


def _serialise_loads(schema) -> None:
    """Once per schema: the schemas are shared by every app of the process
    (``ChineseSchemaMessages``), and a second wrapper would nest in the first."""
    if getattr(schema, "_ra_serial", False):
        return
    lock, load = threading.Lock(), schema.load

    def serial_load(*args, **kwargs):
        with lock:
            return load(*args, **kwargs)

    schema.load = serial_load
    schema._ra_serial = True


class ScopedModelRestApi(RequestFilters, ChineseSchemaMessages, DocumentedModelRestApi):
    """ModelRestApi with scope-checked related ids and Chinese 422/403 answers, and an
    OpenAPI document that matches them (core.views.openapi)."""

    def prepare_item(self, item, is_new: bool) -> None:
        """Validate and normalise before a write; raise RuleViolations to refuse."""

    def _init_model_schemas(self) -> None:
        """marshmallow-sqlalchemy keeps the row being loaded on the schema itself
        (``schema.instance``), and the API shares one schema between all requests: two
        concurrent PUTs swapped rows, and the loser loaded its data into a *new* row
        whose numbers then clashed with the real one — 422 "已登记" instead of 409
        (issue 12 item 11). Loads of one schema therefore run one at a time."""
        super()._init_model_schemas()
        for schema in (self.add_model_schema, self.edit_model_schema):
            if schema is not None:
                _serialise_loads(schema)

    def response_400(self, message: str | None = None):
        """FAB's own 400s (the ``q`` argument, column names) in Chinese; the English
        detail stays after the Chinese lead for the developer reading it."""
        if isinstance(message, str) and message.isascii():
            message = next((text for prefix, text in FAB_400_MESSAGES if
                            message.startswith(prefix)), "请求参数无效") + f"（{message}）"
        return super().response_400(message=message)

    def _check_related_ids(self, payload: dict) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        mapper = self.datamodel.obj.__mapper__
        for key, value in payload.items():
            prop = mapper.attrs.get(key)
            if not isinstance(prop, RelationshipProperty) or value in (None, ""):
                continue
            target = prop.mapper.class_
            ids = value if isinstance(value, list) else [value]
            for one in ids:
                if isinstance(one, bool) or not isinstance(one, (int, str)) \
                        or not re.fullmatch(r"[0-9]+", str(one)):
                    errors.setdefault(key, []).append("关联记录编号须为整数")
                    continue
                # Beyond the id column's range (PostgreSQL INTEGER) nothing can match, and
                # the driver would fail on the value (OverflowError, NumericValueOutOfRange).
                found = int(one) <= MAX_ID and db.session.execute(
                    select(target).where(target.id == int(one))).scalar_one_or_none()
                if not found:
                    errors.setdefault(key, []).append(f"编号为{one}的关联记录不存在或不在本辖区内")
        return errors

    def _write(self, handler, is_new: bool, *args):
        payload = request_object()
        if request.method in ("POST", "PUT") and payload is None:
            return self.response_400(message=NOT_AN_OBJECT)
        if payload is not None:
            errors = self._check_related_ids(payload)
            if errors:
                return self.response_422(message=errors)
        self._is_new = is_new
        try:
            return handler(*args)
        except (RuleViolations, RuleViolation) as exc:
            db.session.rollback()
            if isinstance(exc, RuleViolation):
                exc = RuleViolations([exc])
            return self.response_422(message=exc.by_field())
        except ScopeViolation as exc:
            db.session.rollback()
            return self.response(403, message=exc.message)

    def post_headless(self):
        return self._write(super().post_headless, True)

    def put_headless(self, pk):
        return self._write(super().put_headless, False, pk)

    def delete_headless(self, pk):
        return self._write(super().delete_headless, False, pk)

    def pre_add(self, item) -> None:
        self.prepare_item(item, True)

    def pre_update(self, item) -> None:
        self.prepare_item(item, False)

