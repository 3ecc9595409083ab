"""Request-level audit: refused requests, and opening a person's record (the show and
edit screens, the printed form and card, the API's GET by id), each as its own action. Events recorded
during a request are written when its response is ready (``trail.flush_request_queue``)."""
from __future__ import annotations

from flask import Flask, current_app, g, request

from core.audit.trail import flush_request_queue, record

# Endpoints (method names of a view) that open one person, and the action each is
# audited as: an auditor tells a look from an edit form or a print (issue #12 item 5).
# The full print, unmasking and correcting record themselves, with their reason.
PERSON_METHODS = {"show": "person.open", "get": "person.open", "edit": "person.edit",
                  "print": "person.print", "card": "person.card"}


def is_person_model(model) -> bool:
    """Retirees, and any plugin model that declares ``__audit_person__ = True``."""
    from core.registry.models import Retiree

    return isinstance(model, type) and (issubclass(model, Retiree)
                                        or getattr(model, "__audit_person__", False))


def _person_opened(response) -> None:
    if request.method != "GET" or response.status_code != 200 or not request.endpoint:
        return
    action = PERSON_METHODS.get(request.endpoint.rsplit(".", 1)[-1])
    if action is None:
        return
    view = getattr(current_app.view_functions.get(request.endpoint), "__self__", None)
    datamodel = getattr(view, "datamodel", None)
    model = getattr(datamodel, "obj", None)
    if not is_person_model(model):
        return
    pk = (request.view_args or {}).get("pk")
    if pk is not None:
        record(action, object_type=model.__name__, object_id=pk,
               detail={"path": request.path})


def _denied(response) -> None:
    if response.status_code in (401, 403):
        record("denied", outcome="denied", object_type=request.endpoint,
               detail={"method": request.method, "path": request.path,
                       "status": response.status_code})


def init_app(app: Flask) -> None:
    @app.after_request
    def _audit_request(response):
        if not request.path.startswith(("/static/", "/ra-static/")):
            _person_opened(response)
            _denied(response)
        if g.get("ra_audit_queue"):
            flush_request_queue()
        return response
