"""The REST API's ``q`` argument checked against its schema, the schema itself checked
once per process.

FAB's ``@rison(schema)`` calls ``jsonschema.validate`` on every request, and that first
checks the schema against the JSON Schema metaschema: about 4 ms of a 20 ms API list page,
the same answer every time. ``SchemaCheckedOnce`` does what ``jsonschema.validate`` does
(the best-matching error raised as ``ValidationError``) with one validator per schema,
built and checked on first use; ``install()`` puts it where FAB's decorator looks."""
from __future__ import annotations

import threading

import flask_appbuilder.api
import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for


class SchemaCheckedOnce:
    ValidationError = jsonschema.ValidationError

    def __init__(self) -> None:
        self._validators: dict[int, tuple[dict, object]] = {}
        self._lock = threading.Lock()

    def validate(self, instance, schema) -> None:
        known = self._validators.get(id(schema))
        if known is None or known[0] is not schema:
            cls = validator_for(schema)
            cls.check_schema(schema)
            known = (schema, cls(schema))
            with self._lock:
                self._validators[id(schema)] = known
        error = best_match(known[1].iter_errors(instance))
        if error is not None:
            raise error


def install() -> None:
    if not isinstance(flask_appbuilder.api.jsonschema, SchemaCheckedOnce):
        flask_appbuilder.api.jsonschema = SchemaCheckedOnce()
