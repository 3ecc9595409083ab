"""References chosen by typing, for tables too long for a drop-down (issue 7).

FAB renders a many-to-one relationship as a ``<select>`` of every row of the related
table, in the add and edit forms and in the list's search form. A city has tens of
thousands of insured employers and a million retirees: with 20,000 employers the retiree
list page weighed 2.5 MB and took 700 ms. A model that declares ``__lookup__ = (code
column, name column)`` is never offered that way on a ``ScopedModelView`` (core, and so
every plugin): forms get a ``LookupField``, which renders only the chosen row while the
Select2 box (``static/js/ra-lookup.js``) asks the view's ``lookup/<column>`` for at most
LOOKUP_LIMIT matches as the user types (through the scoped session: only rows the user
may see); the search form gets a text box matching the code exactly or a part of the
name (``FilterLookupText``). The field turns the chosen id back into the row, and an id
that names no row is refused in Chinese.
"""
from __future__ import annotations

import functools

from flask import jsonify, url_for
from markupsafe import Markup, escape
from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import RelationshipDirection
from wtforms import Field, StringField
from wtforms.validators import DataRequired, Optional, StopValidation
from wtforms.widgets import html_params

from core.extensions import db
from core.views.filters import TextFilter

LOOKUP_LIMIT = 20


class LookupWidget:
    def __call__(self, field: LookupField, **kwargs) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs["class"] = f"{kwargs.get('class', '')} form-control ra-lookup".strip()
        chosen = ""
        if field.data is not None:
            chosen = (f'<option value="{escape(field.data.id)}" selected>'
                      f"{escape(str(field.data))}</option>")
        params = html_params(name=field.name,
                             data_url=url_for(field.endpoint, **field.endpoint_args),
                             data_placeholder=field.placeholder, **kwargs)
        return Markup(f'<select {params}><option value=""></option>{chosen}</select>')


class LookupField(Field):
    """A many-to-one reference: one of ``rows()`` (a SELECT of the related model), the
    matches served by ``endpoint`` as the user types."""

    widget = LookupWidget()

    def __init__(self, label=None, validators=None, *, rows, endpoint: str,
                 endpoint_args: dict | None = None, placeholder: str = "输入编号或名称查找",
                 **kwargs):
        super().__init__(label, validators, **kwargs)
        self.rows, self.endpoint, self.placeholder = rows, endpoint, placeholder
        self.endpoint_args = endpoint_args or {}
        self.sent = ""

    def process_formdata(self, valuelist) -> None:
        """The chosen id, as a row the box could have offered (the view's restrictions on
        the relation hold for a posted id too)."""
        self.sent = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if self.sent.isdigit() and len(self.sent) <= 9:  # ids are 32-bit
            stmt = self.rows()
            key = inspect(_model_of(stmt)).primary_key[0]
            self.data = db.session.scalar(stmt.where(key == int(self.sent)))

    def pre_validate(self, form) -> None:
        if self.sent and self.data is None:  # stops the chain: "required" would hide it
            raise StopValidation(f"所选{self.label.text}不存在或不可选，请重新输入查找")

    def _value(self) -> str:
        return str(self.data.id) if self.data is not None else ""


def _model_of(stmt):
    return stmt.column_descriptions[0]["entity"]


def _columns(model):
    code, name = model.__lookup__
    return getattr(model, code), getattr(model, name)


def related_rows(view, column: str, form: str):
    """The rows the ``form`` ("add" or "edit") may offer for ``column``: the related
    model in the user's scope, within the view's ``<form>_form_query_rel_fields``."""
    target = view.lookups[column]
    stmt = select(target)
    restrictions = {"add": view.add_form_query_rel_fields,
                    "edit": view.edit_form_query_rel_fields}.get(form) or {}
    if restrictions.get(column):
        related = view.datamodel.get_related_interface(column)
        stmt = related.get_filters().add_filter_list(restrictions[column]).apply_all(stmt)
    return stmt


def lookup_answer(stmt, term: str):
    """JSON for the box: the rows of ``stmt`` whose code starts with ``term`` or whose
    name contains it, by code, at most LOOKUP_LIMIT (``more`` says there are others)."""
    code, name = _columns(_model_of(stmt))
    stmt = stmt.order_by(code).limit(LOOKUP_LIMIT + 1)
    term = term.strip()[:100]
    if term:
        stmt = stmt.where(or_(code.startswith(term, autoescape=True),
                              name.contains(term, autoescape=True)))
    rows = db.session.scalars(stmt).all()
    return jsonify(results=[{"id": r.id, "text": str(r)} for r in rows[:LOOKUP_LIMIT]],
                   more=len(rows) > LOOKUP_LIMIT)


class FilterLookupText(TextFilter):
    """A reference by its related row's code, or by a part of its name."""

    name = "编号或名称包含"
    arg_name = "ra_lookup"

    def condition(self, text: str):
        relation = inspect(self.datamodel.obj).relationships[self.column_name]
        target = relation.mapper.class_
        code, name = _columns(target)
        key = next(iter(relation.local_columns))
        return key.in_(select(inspect(target).primary_key[0]).where(
            or_(code == text, name.contains(text, autoescape=True))))


def lookup_relations(model, columns) -> dict[str, type]:
    """The many-to-one relationships among ``columns`` whose target has ``__lookup__``."""
    relationships = inspect(model).relationships
    out = {}
    for col in columns:
        relation = relationships.get(col) if isinstance(col, str) else None
        if relation is not None and relation.direction is RelationshipDirection.MANYTOONE \
                and hasattr(relation.mapper.class_, "__lookup__"):
            out[col] = relation.mapper.class_
    return out


def lookup_form_fields(view, form: str, relations: dict[str, type]) -> dict[str, LookupField]:
    """A LookupField for each relation of the ``form``, required when its key column is
    NOT NULL."""
    mapper_relationships = inspect(view.datamodel.obj).relationships
    fields = {}
    for col in relations:
        label = view.label_columns.get(col, col)
        required = not any(c.nullable for c in mapper_relationships[col].local_columns)
        fields[col] = LookupField(
            label, [DataRequired(message=f"请选择{label}")] if required else [Optional()],
            rows=functools.partial(related_rows, view, col, form),
            description=view.description_columns.get(col, ""),
            endpoint=f"{type(view).__name__}.lookup", endpoint_args={"column": col, "form": form})
    return fields


def lookup_search_fields(view, relations: dict[str, type]) -> dict[str, StringField]:
    return {col: StringField(view.label_columns.get(col, col)) for col in relations}
