"""A reference chosen by typing, for tables too long for a drop-down (issue 7).

FAB renders a relationship as a ``<select>`` of every row of the related table. A city
has tens of thousands of insured employers: with 20,000 of them the retiree list page
(whose search form has the same drop-down) weighed 2.5 MB and took 700 ms, the add page
1.4 MB. ``LookupField`` renders only the chosen row; the Select2 box
(``static/js/ra-lookup.js``) asks ``endpoint`` for at most ``LOOKUP_LIMIT`` matches as
the user types. The field turns the chosen id back into the row, and an id that names
no row is refused in Chinese.
"""
from __future__ import annotations

from flask import jsonify, url_for
from markupsafe import Markup, escape
from sqlalchemy import or_, select
from wtforms import Field
from wtforms.validators import ValidationError
from wtforms.widgets import html_params

from core.extensions import db

LOOKUP_LIMIT = 20


class LookupWidget:
    def __call__(self, field: LookupField, **kwargs) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs["class"] = f"{kwargs.get('class', '')} form-control ra-lookup".strip()
        chosen = ""
        if field.data is not None:
            chosen = (f'<option value="{escape(field.data.id)}" selected>'
                      f"{escape(str(field.data))}</option>")
        params = html_params(name=field.name, data_url=url_for(field.endpoint),
                             data_placeholder=field.placeholder, **kwargs)
        return Markup(f'<select {params}><option value=""></option>{chosen}</select>')


class LookupField(Field):
    """A many-to-one reference to ``model``, its matches served by ``endpoint``."""

    widget = LookupWidget()

    def __init__(self, label=None, validators=None, *, model, endpoint: str,
                 placeholder: str = "输入编号或名称查找", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.model, self.endpoint, self.placeholder = model, endpoint, placeholder
        self.sent = ""

    def process_formdata(self, valuelist) -> None:
        self.sent = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if self.sent.isdigit() and len(self.sent) <= 18:
            self.data = db.session.get(self.model, int(self.sent))

    def pre_validate(self, form) -> None:
        if self.sent and self.data is None:
            raise ValidationError(f"所选{self.label.text}不存在，请重新输入查找")

    def _value(self) -> str:
        return str(self.data.id) if self.data is not None else ""


def lookup_answer(model, term: str, code_column, name_column):
    """JSON for the box: rows whose code starts with ``term`` or whose name contains it,
    by code, at most LOOKUP_LIMIT (``more`` says there are others)."""
    stmt = select(model).order_by(code_column).limit(LOOKUP_LIMIT + 1)
    term = term.strip()[:100]
    if term:
        stmt = stmt.where(or_(code_column.startswith(term, autoescape=True),
                              name_column.contains(term, autoescape=True)))
    rows = db.session.scalars(stmt).all()
    return jsonify(results=[{"id": r.id, "text": str(r)} for r in rows[:LOOKUP_LIMIT]],
                   more=len(rows) > LOOKUP_LIMIT)
