"""What the current user may open: one answer for every menu entry, button and link
(issue 14 item 2: never show a link its user cannot use).

``can_open(url)`` resolves a same-site URL to its view and asks the question FAB's
``has_access`` decorator asks there: the method's permission (``can_<method>``, or the
view's ``method_permission_name``) among the view's ``base_permissions`` and granted by
the security manager, which adds the per-district plugin switch (core.security). A URL
that resolves to no route (404) or not for the method (405) may not be opened; a route
without FAB's check (the home page, the login) may. ``can(permission, view)`` asks for
one named permission on a view, for the checks a view makes in its body.

Both are template globals. The navbar's ``is_menu_visible`` filter is replaced by
``menu_visible``: FAB shows every entry the user has ``menu_access`` on, even when the
view behind it refuses (a plain ``add_link`` entry is not checked at all); here an entry
shows only when its target may be opened, and a category only when one of its entries
shows.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

PERMISSION_PREFIX = "can_"


def can(permission: str, view: str) -> bool:
    """The current user holds ``permission`` on ``view`` (a view's class permission name
    or a menu name); ``can_`` is added when missing."""
    if permission != "menu_access" and not permission.startswith(PERMISSION_PREFIX):
        permission = PERMISSION_PREFIX + permission
    return bool(current_app.appbuilder.sm.has_access(permission, view))


def _endpoint(path: str, method: str) -> str | None:
    adapter = current_app.url_map.bind(request.host, script_name=request.script_root or None)
    for _ in range(3):  # a strict-slash redirect, then the route itself
        try:
            endpoint, _args = adapter.match(path, method=method)
            return endpoint
        except RequestRedirect as redirect:
            path = urlsplit(redirect.new_url).path
        except HTTPException:
            return None
    return None


def can_call(endpoint: str) -> bool:
    """The view function behind ``endpoint`` would let the current user in."""
    function = current_app.view_functions.get(endpoint)
    if function is None:
        return False
    view = getattr(function, "__self__", None)
    name = getattr(function, "_permission_name", None)
    if view is None or name is None or not hasattr(view, "base_permissions"):
        return True
    renamed = (getattr(view, "method_permission_name", None) or {}).get(function.__name__)
    permission = PERMISSION_PREFIX + (renamed or name)
    return permission in view.base_permissions and can(permission, view.class_permission_name)


def can_open(url: str, method: str = "GET") -> bool:
    """The current user may open ``url`` (same-site; another site's URL: True). Answered
    once per request and address: the navbar asks for a category's entries again for
    each entry, and a page asks for the same links in several places."""
    known = g.setdefault("ra_can_open", {})
    if (url, method) not in known:
        known[url, method] = _can_open(url, method)
    return known[url, method]


def _can_open(url: str, method: str) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.netloc != request.host):
        return True
    root = request.script_root or ""
    path = parts.path[len(root):] if root and parts.path.startswith(root) else parts.path
    endpoint = _endpoint(path or "/", method)
    return endpoint is not None and can_call(endpoint)


def menu_visible(item) -> bool:
    """The navbar entry is shown: FAB's ``menu_access`` check, and its target may be
    opened (an entry) or one of its entries is shown (a category)."""
    if item.name != "-" and not can("menu_access", item.name):
        return False
    if item.childs:
        return any(child and child.name != "-" and menu_visible(child) for child in item.childs)
    return can_open(item.get_url())


def init_app(app) -> None:
    """After ``AppBuilder.init_app`` (which registers FAB's filters)."""
    app.jinja_env.globals.update(can=can, can_open=can_open)
    app.jinja_env.filters["is_menu_visible"] = menu_visible
