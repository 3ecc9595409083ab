"""The list screens' search form, its fields rendered once and kept.

FAB renders every search column's input on every list page (the page's script adds a
filter row by copying that HTML): a third of a list page's Python, and for a relation a
query of the related rows for its drop-down. The HTML is the same for every request of one
screen, region and language until the related rows change, so ``KeptSearchWidget`` keeps
it (``core.caching.kept``, keyed by the reader's scope and the related tables'
generations); the active filters are still read from each request."""
from __future__ import annotations

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
