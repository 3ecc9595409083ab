"""List and API filters whose values are checked before they reach SQL.

FAB compares a boolean column with the URL text as it came (``_flt_0_form_complete=abc``
or even ``=n``): SQLite finds nothing, PostgreSQL fails with "operator does not exist:
boolean = character varying". Here a yes/no filter accepts the usual spellings and
refuses anything else with ``InvalidFilter``, which the app answers with 400 and a
Chinese message (see ``core.app.configure_input_guards``).

FAB's REST filters also pick the filter class for ``opr`` from a process-wide map that
the last instantiated filter of that name wins (``map_args_filter``), so the column's own
filter class may not be the one applied; ``CheckedFilters`` takes it from the column."""
from __future__ import annotations

import copy
import re

from flask import g, has_request_context
from flask_appbuilder.exceptions import (
    InvalidColumnFilterFABException,
    InvalidOperationFilterFABException,
)
from flask_appbuilder.models.filters import BaseFilter, Filters
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterNotEqual,
    SQLAFilterConverter,
    get_field_setup_query,
)

TRUE = frozenset({"y", "yes", "1", "true", "on", "是"})
FALSE = frozenset({"n", "no", "0", "false", "off", "否"})


class InvalidFilter(ValueError):
    """A filter value the column cannot be compared with."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise InvalidFilter(f"筛选条件无效：“{str(value)[:20]}”不是是/否值，请用 y 或 n")


class TextFilter(BaseFilter):
    """A filter on typed text: blank filters nothing, else ``condition`` of the stripped
    text (the custom search filters of core and plugins)."""

    def apply(self, query, value):
        text = (value or "").strip()
        return query.filter(self.condition(text)) if text else query

    def condition(self, text: str):
        raise NotImplementedError


class FilterBoolEqual(FilterEqual):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field == to_bool(value))


class FilterBoolNotEqual(FilterNotEqual):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field != to_bool(value))


class CheckedFilterConverter(SQLAFilterConverter):
    conversion_table = tuple(
        (kind, [FilterBoolEqual, FilterBoolNotEqual] if kind == "is_boolean" else filters)
        for kind, filters in SQLAFilterConverter.conversion_table)


MAX_INT = 2**31 - 1  # PostgreSQL INTEGER
_INTEGER = re.compile(r"-?[0-9]{1,10}")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
LIST_OPERATIONS = frozenset({"in", "nin"})


def _integer(value) -> int:
    if not isinstance(value, bool) and isinstance(value, int | str) \
            and _INTEGER.fullmatch(str(value).strip()):
        number = int(value)
        if -MAX_INT - 1 <= number <= MAX_INT:
            return number
    raise InvalidFilter(f"筛选条件无效：“{str(value)[:20]}”不是有效的整数编号")


def _number(value):
    if not isinstance(value, bool) and isinstance(value, int | float | str) \
            and _NUMBER.fullmatch(str(value).strip()):
        return value
    raise InvalidFilter(f"筛选条件无效：“{str(value)[:20]}”不是有效的数值")


def _text(value) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidFilter("筛选条件无效：此处须为文字")
    return str(value)


class CheckedFilters(Filters):
    """REST filters applied with the filter the column itself offers for ``opr``, with
    values of the column's type: FAB passes them to SQL as they came, and an error met
    while the query runs answers 500 (``{"value": 99999999999999999999}`` on a text
    column, ``"abc"`` for a related id, an integer for a text column on PostgreSQL)."""

    def fresh(self) -> CheckedFilters:
        """The same offered filters with no active ones, without converting every column
        of the model again (FAB's ``Filters(...)`` does, several times per list page)."""
        new = copy.copy(self)
        new.clear_filters()
        return new

    def get_joined_filters(self, filters) -> CheckedFilters:
        joined = self.fresh()
        joined.filters = self.filters + filters.filters
        joined.values = self.values + filters.values
        return joined

    def copy(self) -> CheckedFilters:
        return self.get_joined_filters(self.fresh())

    def coerce(self, col: str, opr: str, value):
        if opr in LIST_OPERATIONS:
            if not isinstance(value, list) or len(value) > 1000:
                raise InvalidFilter("筛选条件无效：此操作须给出一个列表（至多1000项）")
            return [self.coerce(col, "eq", one) for one in value]
        dm = self.datamodel
        if dm.is_relation(col):
            if isinstance(value, list):
                return [_integer(one) for one in value[:1000]]
            return _integer(value)
        if dm.is_boolean(col):
            return to_bool(value)
        if dm.is_integer(col):
            return _integer(value)
        if dm.is_float(col) or dm.is_numeric(col):
            return _number(value)
        if dm.is_date(col) or dm.is_datetime(col):
            return _text(value)
        if isinstance(value, list):
            raise InvalidFilter("筛选条件无效：此处须为单个值")
        return _text(value)

    def rest_add_filters(self, data: list[dict]) -> None:
        for item in data:
            if not isinstance(item, dict) or not {"col", "opr", "value"} <= item.keys():
                raise InvalidOperationFilterFABException("筛选条件须含 col、opr 和 value")
            col, opr = item["col"], item["opr"]
            if col not in self._search_filters:
                raise InvalidColumnFilterFABException(f"不能按“{col}”筛选")
            found = next((f for f in self._search_filters[col] if f.arg_name == opr), None)
            if found is None:
                raise InvalidOperationFilterFABException(f"“{col}”不支持筛选操作“{opr}”")
            try:
                value = self.coerce(col, opr, item["value"])
            except InvalidFilter as exc:  # refused here: FAB answers 500 for errors later
                raise InvalidOperationFilterFABException(exc.message) from exc
            self._add_filter(found, value)


class RequestFilters:
    """Each request's own active filters. FAB keeps them on the view (``self._filters``),
    one object for every request the process serves: with gunicorn's threads, two
    requests to one screen clear and fill the same list, and one may run with the other's
    filters. The offered filters stay shared; the active ones live on ``flask.g``."""

    @property
    def _filters(self):
        shared = self.__dict__.get("_shared_filters")
        if shared is None or not has_request_context():
            return shared
        own = g.setdefault("ra_view_filters", {})
        if id(self) not in own:
            from core.views.sensitive import restrict_partial_search

            own[id(self)] = restrict_partial_search(shared.fresh())
        return own[id(self)]

    @_filters.setter
    def _filters(self, value) -> None:
        self.__dict__["_shared_filters"] = value
