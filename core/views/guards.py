"""Checks of a screen's request before FAB's view code sees it, for every list view of
the app (core's, plugins', FAB's own user and role screens): issue #12 item 17.

FAB answers 500 for
- a ``_flt_<n>_<col>`` whose n is past the column's offered filters (IndexError);
- a relation filter whose value is not a row id: PostgreSQL refuses ``"abc"`` for an
  integer key and FAB re-raises it as ApplyFilterException (the export's 500);
- an ``action`` the view does not have, on ``/action_post`` or ``/action/<name>/<pk>``,
  even for an anonymous caller (FAB looks the action up before any permission check).

Here a bad filter is refused with a Chinese message over the unfiltered list; an
anonymous action goes to the login page; a logged-in one naming an unknown action
answers 400 (404 in the URL path), in Chinese.
"""
from __future__ import annotations

import re

from flask import Flask, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.models.filters import FilterRelation
from flask_login import current_user

from core.views.filters import InvalidFilter, _integer

# FAB's own pattern (flask_appbuilder.urltools.get_filter_args), searched the same way.
FILTER_ARG = re.compile(r"_flt_(\d)_(.*)")


def _view(endpoint: str | None) -> BaseCRUDView | None:
    view = getattr(current_app.view_functions.get(endpoint or ""), "__self__", None)
    return view if isinstance(view, BaseCRUDView) else None


def check_filter_args(view: BaseCRUDView) -> None:
    """Every ``_flt_`` argument names one of the column's offered filters, and a
    relation filter's values are row ids (an integer the key column can hold)."""
    offered = view._filters._all_filters
    for arg in request.args:
        found = FILTER_ARG.search(arg)
        if not found or found.group(2) not in offered:
            continue
        index, column = int(found.group(1)), found.group(2)
        if index >= len(offered[column]):
            raise InvalidFilter(f"筛选条件无效：字段“{column[:30]}”没有第{index}种筛选方式")
        if isinstance(offered[column][index], FilterRelation):
            for value in request.args.getlist(arg):
                _integer(value)


def check_action(view: BaseCRUDView):
    """An anonymous caller is sent to log in; a known user naming no action of the view
    is refused before FAB looks it up."""
    if not current_user.is_authenticated:
        return redirect(current_app.appbuilder.get_url_for_login_with(request.url))
    if request.endpoint.endswith(".action_post"):
        name = request.form.get("action")
        if name not in view.actions:
            abort(400, description=f"未知的批量操作“{(name or '')[:30]}”，未做任何更改")
    elif request.view_args.get("name") not in view.actions:
        abort(404, description="没有这项操作")
    return None


def init_app(app: Flask) -> None:
    @app.before_request
    def _check_view_request():
        view = _view(request.endpoint)
        if view is None:
            return None
        if request.endpoint.endswith((".action_post", ".action")):
            return check_action(view)
        try:
            check_filter_args(view)
        except InvalidFilter as exc:
            # Back to the unfiltered list, not to this URL without its arguments: for the
            # export that would be a download of the whole scope.
            flash(exc.message, "danger")
            list_endpoint = f"{view.endpoint}.list"
            return redirect(url_for(list_endpoint) if list_endpoint in
                            current_app.view_functions else request.path)
        return None
