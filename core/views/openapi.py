"""The REST API's OpenAPI document (``/api/v1/_openapi``), made to say what the API
really answers, and the answers that had to change rather than the document.

FAB 5.3 generates a document that mis-describes its own answers: list ``ids`` and the
``id`` of GET and POST typed string (they are integers); error ``message`` typed string
(a 422 answers an object of messages per field); related objects that may be null typed
object, and lists of related objects typed object (apispec drops marshmallow 3.26's
``Nested(many=True)``); decimals typed number (Flask writes them as strings); naive local
times typed RFC 3339 ``date-time``; foreign-key columns and related ids in request bodies
untyped; every field of a PUT body required (FAB merges a partial body with the stored
row) and of a GET answer too (``columns`` and ``pre_get`` leave fields out); ``_info``'s
``add_columns``/``edit_columns`` typed object (they are lists); and no 401/403 on most
operations. ``DocumentedModelRestApi`` corrects all of it for every API built on it,
core's and plugins', when the document is built.

Answers corrected instead: ``_info`` gave an undescribed column ``gettext("")`` as its
description, which is the translation catalog's header; a negative or huge ``page``
reached SQL (OFFSET must not be negative, integer overflow) and answered 500, now 400.
Elsewhere: refused tokens answer ``{"message": …}`` (``JWT_ERROR_MESSAGE_KEY``), and
HTTP errors under ``/api/`` answer JSON, not HTML (``core.app.configure_api_errors``).
"""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_appbuilder.api import ModelRestApi
from marshmallow import fields
from marshmallow_sqlalchemy import field_for
from marshmallow_sqlalchemy.fields import Related, RelatedList

MESSAGE = {
    "description": "A message, or messages per field (``_schema``: the whole record)",
    "anyOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": {"anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object"},
        ]}},
    ],
}

ERRORS = {
    "400": "Bad request: not a JSON object, or an invalid query argument",
    "401": "Not authenticated: no session or token, or an expired or revoked token",
    "403": "Forbidden: no permission, the plugin is off in the user's region, or the "
           "record lies outside it",
    "404": "Not found, or outside the user's region",
    "409": "Conflict: the record was changed by someone else since it was read",
    "422": "Could not process the record (messages per field), or a malformed token",
    "500": "Fatal error",
}

MAX_PAGE = 2**31 - 1  # page × page size stays far inside a 64-bit OFFSET
PAGE_MESSAGE = f"页码须为0至{MAX_PAGE}之间的整数"
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
STRINGS = {"type": "array", "items": {"type": "string"}}


def error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "required": ["message"], "properties": {"message": MESSAGE}}}}}


def key_schema(model) -> dict:
    """The JSON type of ``model``'s primary key."""
    columns = model.__mapper__.primary_key
    try:
        numeric = len(columns) == 1 and columns[0].type.python_type is int
    except NotImplementedError:
        numeric = False
    return {"type": "integer"} if numeric else {"type": "string"}


def response_ref(code: str) -> dict:
    return {"$ref": f"#/components/responses/{code}"}


def json_object(properties: dict) -> dict:
    return {"application/json": {"schema": {"type": "object", "properties": properties}}}


def correct_model_schema(api_spec: APISpec, name: str, schema, model,
                         keep_required: bool) -> None:
    """Correct the component ``name``, generated from the marshmallow ``schema`` of
    ``model``, and the components of its nested schemas.

    ``required`` stays on POST bodies only: a PUT body may be partial (FAB merges it with
    the stored row), and a GET answer lacks the fields left out by ``columns`` or
    withheld by ``pre_get``."""
    doc = api_spec.components.schemas[name]
    if not keep_required:
        doc.pop("required", None)
    mapper, properties = model.__mapper__, doc.get("properties", {})
    for field_name, field in schema.fields.items():
        prop = properties.get(field_name)
        if prop is None:
            continue
        if prop.get("format") == "date-time":
            # Stored and answered as naive local time: no UTC offset, so not RFC 3339.
            del prop["format"]
            prop.update(description="Local time, ISO 8601 without a UTC offset",
                        example="2024-05-01T09:30:00")
        if isinstance(field, fields.Decimal) and not field.as_string:
            # Flask's JSON provider writes a Decimal as a string, never as a float.
            prop.update(type="string", pattern=DECIMAL_PATTERN, example="600.00",
                        description="A decimal number, as a string")
        if isinstance(field, fields.Inferred) and field_name in mapper.columns:
            # A foreign-key column: FAB leaves its type to be inferred at dump time.
            prop.update(_converter(api_spec).field2property(
                field_for(model, field_name, include_fk=True)))
        if field_name not in mapper.relationships:
            continue
        related = mapper.relationships[field_name].mapper.class_
        if isinstance(field, RelatedList):
            prop.update(type="array", items=key_schema(related))
        elif isinstance(field, Related):
            prop.update(key_schema(related))
        elif isinstance(field, fields.Nested) and "$ref" in prop:
            ref = prop.pop("$ref")
            if field.many:  # apispec loses marshmallow 3.26's Nested(many=True)
                prop.update(type="array", items={"$ref": ref})
            else:  # the related row may be missing, or outside the user's scope
                prop.update(allOf=[{"$ref": ref}], nullable=True)
            correct_model_schema(api_spec, ref.rsplit("/", 1)[1], field.schema, related,
                                 keep_required)


def _converter(api_spec: APISpec):
    return next(plugin.converter for plugin in api_spec.plugins
                if isinstance(plugin, MarshmallowPlugin))


class PageOutOfRange(ValueError):
    """A ``page`` argument SQL cannot take as an OFFSET."""


class DocumentedErrors:
    """Every documented operation answers the platform's shared refusals, so an
    endpoint's docstring lists only its successes and the errors particular to it (404,
    409): 400 and 500 always, 422 for writes, 401 and 403 when it needs a login. For
    BaseApi subclasses too (a plugin's custom API)."""

    def operation_helper(self, path=None, operations=None, methods=None, func=None,
                         **kwargs: Any) -> None:
        super().operation_helper(path=path, operations=operations, methods=methods,
                                 func=func, **kwargs)
        for method in methods:
            operation = operations[method.lower()]
            if not operation.get("responses"):
                continue  # undocumented: its author documents it, or nothing is claimed
            responses = {str(code): answer for code, answer in operation["responses"].items()}
            operation["responses"] = responses
            codes = ["400", "500"] + (["422"] if method.upper() in ("POST", "PUT") else [])
            if "security" in operation:
                codes += ["401", "403"]
            for code in codes:
                responses.setdefault(code, response_ref(code))


class DocumentedModelRestApi(DocumentedErrors, ModelRestApi):
    """ModelRestApi whose OpenAPI document matches its answers."""

    def _sanitize_page_args(self, page, page_size):
        if page is not None and not 0 <= page <= MAX_PAGE:
            raise PageOutOfRange
        return super()._sanitize_page_args(page, page_size)

    def get_list_headless(self, **kwargs: Any):
        try:
            return super().get_list_headless(**kwargs)
        except PageOutOfRange:
            return self.response_400(message=PAGE_MESSAGE)

    def info_headless(self, **kwargs: Any):
        try:
            return super().info_headless(**kwargs)
        except PageOutOfRange:
            return self.response_400(message=PAGE_MESSAGE)

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page,
                                       page_size=page_size)
        for key, texts in (("label", self.label_columns),
                           ("description", self.description_columns)):
            if not texts.get(field.name):
                info[key] = ""
        return info

    # --- components -------------------------------------------------------------------
    def add_apispec_components(self, api_spec: APISpec) -> None:
        super().add_apispec_components(api_spec)
        # Shared by every API of the document, FAB's own (login, menu) included.
        for code, description in ERRORS.items():
            api_spec.components.responses[code] = error_response(description)
        model = self.datamodel.obj
        for name, schema, keep_required in (
                (self.list_model_schema_name, self.list_model_schema, False),
                (self.show_model_schema_name, self.show_model_schema, False),
                (self.add_model_schema_name, self.add_model_schema, True),
                (self.edit_model_schema_name, self.edit_model_schema, False)):
            correct_model_schema(api_spec, name, schema, model, keep_required)

    # --- operations -------------------------------------------------------------------
    def operation_helper(self, path=None, operations=None, methods=None, func=None,
                         **kwargs: Any) -> None:
        super().operation_helper(path=path, operations=operations, methods=methods,
                                 func=func, **kwargs)
        correct = getattr(self, f"_document_{func.__name__}", None)
        for method in methods:
            responses = operations[method.lower()].get("responses")
            if responses and correct is not None:
                correct(responses)

    def _document_get_list(self, responses: dict) -> None:
        answer = responses["200"]["content"]["application/json"]["schema"]["properties"]
        answer.update(
            count={"type": "integer", "description": "The number of matching records"},
            ids={"type": "array", "items": key_schema(self.datamodel.obj),
                 "description": "The primary keys of ``result``, in its order"},
            label_columns=STRING_MAP, description_columns=STRING_MAP)

    def _document_get(self, responses: dict) -> None:
        answer = responses["200"]["content"]["application/json"]["schema"]["properties"]
        answer.update(id={**key_schema(self.datamodel.obj), "description": "The item id"},
                      label_columns=STRING_MAP, description_columns=STRING_MAP)

    def _document_post(self, responses: dict) -> None:
        answer = responses["201"]["content"]["application/json"]["schema"]["properties"]
        answer["id"] = {**key_schema(self.datamodel.obj), "description": "The new item's id"}

    def _document_put(self, responses: dict) -> None:
        if self.datamodel.obj.__mapper__.version_id_col is not None:
            responses.setdefault("409", response_ref("409"))

    def _related_key_schema(self) -> dict:
        """The JSON type of the related records' keys offered by ``_info``."""
        keys = {key_schema(rel.mapper.class_)["type"]
                for rel in self.datamodel.obj.__mapper__.relationships}
        return {"type": keys.pop()} if len(keys) == 1 else {}

    def _document_info(self, responses: dict) -> None:
        field_info = {"type": "object", "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "description": {"type": "string"},
            "type": {"type": "string", "description": "The marshmallow field's class"},
            "required": {"type": "boolean"},
            "unique": {"type": "boolean"},
            "validate": STRINGS,
            "count": {"type": "integer", "description": "Related fields: the number of "
                                                        "choices"},
            "values": {"type": "array", "description": "Related fields: a page of choices",
                       "items": {"type": "object", "properties": {
                           "id": self._related_key_schema(),
                           "value": {"type": "string"}}}},
        }}
        columns = {"type": "array", "items": field_info}
        responses["200"]["content"] = json_object({
            "add_columns": columns,
            "edit_columns": columns,
            "add_title": {"type": "string"},
            "edit_title": {"type": "string"},
            "filters": {"type": "object", "description": "The filters of each searchable "
                                                         "column",
                        "additionalProperties": {"type": "array", "items": {
                            "type": "object", "properties": {
                                "name": {"type": "string"},
                                "operator": {"type": "string"}}}}},
            "permissions": {**STRINGS,
                            "description": "The user's permissions on this resource"},
        })
