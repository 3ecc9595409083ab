"""Issue 12 (PIPL): ID numbers and phones searched only by the full value, unless the user
may unmask them.

A "starts with" filter on the ID number answered, digit by digit, what the mask hides: a
full number in 69 requests, with no reason asked and nothing audited. For a user without
``can_unmask`` on ``RetireeUnmaskView`` every filter of an ``id_card_no`` or ``phone``
column (also through a relation, ``retiree.phone``) other than an exact match on the full
value is swapped for one that refuses with a Chinese message (400 on the API, a flashed
message on a screen), in the URL's ``_flt_<n>_<col>`` and the API's ``opr`` alike; the
exact ones come first, so that the search form, which offers only those, and the URL
agree on each filter's index."""
from __future__ import annotations

import copy
import functools

from flask import current_app, g, has_request_context
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual

from core.views.filters import InvalidFilter

SENSITIVE_COLUMNS = frozenset({"id_card_no", "phone"})
PARTIAL_REFUSED = ("身份证号和联系电话只能按完整号码精确查找：您没有查看完整号码的权限，"
                   "不能按号码的一部分（开头、结尾、包含等）查找")


class RefusedPartialSearch(BaseFilter):
    """Stands in for a partial-match filter of a sensitive column: applying it refuses."""

    name = "（须按完整号码查找）"
    refused = True

    def apply(self, query, value):
        raise InvalidFilter(PARTIAL_REFUSED)


@functools.cache
def _refused_kind(kind: type[BaseFilter]) -> type[RefusedPartialSearch]:
    """A stand-in class with the original's ``arg_name`` (the API's ``opr``): FAB builds
    filters again from their class and column (``add_filter_list``)."""
    return type(f"Refused{kind.__name__}", (RefusedPartialSearch,),
                {"arg_name": kind.arg_name})


def is_exact(kind: BaseFilter) -> bool:
    """A filter that finds a row only by its full value."""
    return type(kind) is FilterEqual or getattr(kind, "exact_match", False)


def is_sensitive(column: str) -> bool:
    return column.rsplit(".", 1)[-1] in SENSITIVE_COLUMNS


def may_unmask() -> bool:
    """``can_unmask`` on ``RetireeUnmaskView``, checked once per request."""
    if not has_request_context():
        return True
    if "ra_may_unmask" not in g:
        g.ra_may_unmask = current_app.appbuilder.sm.has_access("can_unmask",
                                                               "RetireeUnmaskView")
    return g.ra_may_unmask


def _exact_first(kinds: list[BaseFilter]) -> list[BaseFilter]:
    return ([k for k in kinds if is_exact(k)]
            + [_refused_kind(type(k))(k.column_name, k.datamodel)
               for k in kinds if not is_exact(k)])


# The restricted offer of each view's filters, built once and shared by its requests like
# the unrestricted one: {id(offered search filters): (offered, all, restricted search, all)}.
_RESTRICTED: dict[int, tuple] = {}


def _restricted(filters, columns: list[str]) -> tuple[dict, dict]:
    kept = _RESTRICTED.get(id(filters._search_filters))
    if kept is None or kept[0] is not filters._search_filters \
            or kept[1] is not filters._all_filters:
        search, every = dict(filters._search_filters), dict(filters._all_filters)
        for kinds in (search, every):
            for column in columns:
                if column in kinds:
                    kinds[column] = _exact_first(kinds[column])
        kept = (filters._search_filters, filters._all_filters, search, every)
        _RESTRICTED[id(filters._search_filters)] = kept
    return kept[2], kept[3]


def restrict_partial_search(filters):
    """``filters`` (a request's own copy), with the partial searches of sensitive columns
    refused when the user may not unmask; unchanged otherwise."""
    columns = [c for c in {*filters._search_filters, *filters._all_filters} if is_sensitive(c)]
    if not columns or may_unmask():
        return filters
    restricted = copy.copy(filters)
    restricted._search_filters, restricted._all_filters = _restricted(filters, columns)
    return restricted
