"""The list screens' search form, its fields rendered once and kept.

FAB renders every search column's input on every list page (the page's script adds a
filter row by copying that HTML): a third of a list page's Python, and for a relation a
query of the related rows for its drop-down. The HTML is the same for every request of one
screen, region and language until the related rows change, so ``KeptSearchWidget`` keeps
it (``core.caching.kept``, keyed by the reader's scope and the related tables'
generations); the active filters are still read from each request."""
from __future__ import annotations

import contextlib

from flask_appbuilder._compat import as_unicode
from flask_appbuilder.widgets import RenderTemplateWidget, SearchWidget
from flask_babel import get_locale
from sqlalchemy import inspect

from core import caching


class KeptSearchWidget(SearchWidget):
    def __call__(self, **kwargs):
        form, cols = self.template_args["form"], self.template_args["include_cols"]
        search = self.filters.get_search_filters()
        kwargs["label_columns"] = {c: as_unicode(form[c].label.text) for c in cols}
        kwargs["form_fields"] = caching.kept(
            f"search:{self.template_args['route_base']}:{get_locale()}:{','.join(cols)}",
            related_tables(self.filters.datamodel.obj, cols),
            lambda: {c: str(form[c]()) for c in cols})
        # Refused stand-ins (core.views.sensitive) come last and are not offered.
        kwargs["search_filters"] = {c: [as_unicode(f.name) for f in search[c]
                                        if not getattr(f, "refused", False)] for c in cols}
        kwargs["active_filters"] = self.filters.get_filters_values_tojson()
        return RenderTemplateWidget.__call__(self, **kwargs)


def related_tables(model, columns) -> tuple[str, ...]:
    """The tables whose rows a search column of ``model`` may offer."""
    relationships = inspect(model).relationships
    return tuple(sorted({relationships[c].mapper.local_table.name
                         for c in columns if c in relationships}))


def current_filters(filters, label_columns: dict) -> list[str]:
    """The active filters as a clerk reads them (issue 14 item 9, "当前筛选"): the column's
    label, the filter's name and the value, a code as its label, a related row by its
    name, an ID number or phone masked (issue 12), a yes/no as 是/否."""
    from core.registry.validators import mask_id_card, mask_phone
    from core.views.coded import label_of
    from core.views.filters import InvalidFilter, to_bool
    from core.views.sensitive import is_sensitive

    out = []
    for flt, value in zip(filters.filters, filters.values, strict=False):
        column = flt.column_name
        values = value if isinstance(value, list) else [value]
        shown = []
        for one in values:
            one = label_of(filters, column, one)
            if is_sensitive(column):
                one = (mask_id_card if column.endswith("id_card_no") else mask_phone)(one)
            elif filters.datamodel.is_boolean(column):
                with contextlib.suppress(InvalidFilter):  # refused when the list runs
                    one = "是" if to_bool(one) else "否"
            elif filters.datamodel.is_relation(column):
                one = _related_name(filters.datamodel, column, one)
            shown.append(str(one))
        label = label_columns.get(column, column)
        out.append(f"{label}（{as_unicode(flt.name)}）：{'、'.join(shown)}")
    return out


def _related_name(datamodel, column: str, value) -> str:
    """A related row named by its ``str``, read through the scoped session (a row the user
    may not see stays its id)."""
    from core.extensions import db

    text = str(value)
    if not text.isdigit() or len(text) > 9:
        return text
    row = db.session.get(datamodel.get_related_model(column), int(text))
    return text if row is None else str(row)
