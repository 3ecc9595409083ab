"""Coded columns filtered by their Chinese labels (issue 14 item 6).

A coded column stores an internal code (``employer_managed``) and shows a label (单位管理).
FAB offers it a text box and eight text filters: a clerk typing the label shown in the
list ("社区管理") finds nothing, and a dashboard link shows ``employer_managed``. A column
declares its codes with ``info={"choices": {code: label}}`` on its ``mapped_column`` (a
view may add or override with ``coded_columns``); every ``ScopedModelView`` (core's and
plugins') then offers it a drop-down of the labels, with 等于/不等于/属于/不属于 filters
that take a code (the drop-down, dashboard links) or the label (typed in a URL)."""
from __future__ import annotations

from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterIn,
    FilterNotEqual,
    FilterNotIn,
)
from sqlalchemy import inspect
from wtforms import SelectField


def column_choices(model, column: str) -> dict[str, str] | None:
    """The ``{code: label}`` a model's column declares in its ``info``, or None."""
    attribute = inspect(model).attrs.get(column)
    columns = getattr(attribute, "columns", None)
    if not columns:
        return None
    return columns[0].info.get("choices")


class CodedFilter:
    """Mixin: the value is a code or its label, compared as the code; anything else
    matches nothing (it is compared as given)."""

    choices: dict[str, str] = {}

    def code_of(self, value):
        if isinstance(value, list):
            return [self.code_of(one) for one in value]
        text = str(value).strip()
        if text in self.choices:
            return text
        return next((code for code, label in self.choices.items() if label == text), text)

    def apply(self, query, value):
        return super().apply(query, self.code_of(value))


class FilterCodedEqual(CodedFilter, FilterEqual):
    pass


class FilterCodedNotEqual(CodedFilter, FilterNotEqual):
    pass


class FilterCodedIn(CodedFilter, FilterIn):
    pass


class FilterCodedNotIn(CodedFilter, FilterNotIn):
    pass


CODED_FILTERS = (FilterCodedEqual, FilterCodedNotEqual, FilterCodedIn, FilterCodedNotIn)


def coded_filters(column: str, datamodel, choices: dict[str, str]) -> list:
    """The column's filters, each of a class of its own holding ``choices``: FAB builds
    filters again from their class and column (``add_filter_list``)."""
    return [type(kind.__name__, (kind,), {"choices": choices})(column, datamodel)
            for kind in CODED_FILTERS]


def coded_search_field(label: str, choices: dict[str, str]) -> SelectField:
    """The search form's drop-down: the labels, sent as codes."""
    return SelectField(label, choices=[("", "（请选择）"), *choices.items()],
                       validate_choice=False, render_kw={"class": "form-control"})


def label_of(filters, column: str, value):
    """A filter value as a clerk reads it: a code as its label."""
    choices = getattr(next((f for f in filters._all_filters.get(column, ())
                            if isinstance(f, CodedFilter)), None), "choices", None)
    if not choices:
        return value
    if isinstance(value, list):
        return [label_of(filters, column, one) for one in value]
    return choices.get(str(value), value)
