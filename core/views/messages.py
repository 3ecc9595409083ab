"""Chinese answers for the REST schemas' own refusals, for every API of core and of the
plugins (``ScopedModelRestApi`` uses it)."""
from __future__ import annotations

from flask import current_app
from marshmallow import fields as ma_fields
from marshmallow.validate import Length

FIELD_MESSAGES = {"required": "请填写{label}", "null": "{label}不能为空",
                  "validator_failed": "{label}的值无效"}
KIND_MESSAGES = (
    (ma_fields.Boolean, "{label}只能填true或false"),
    (ma_fields.Date, "{label}须为日期，格式为YYYY-MM-DD"),
    (ma_fields.DateTime, "{label}须为日期时间，格式为YYYY-MM-DDTHH:MM:SS"),
    (ma_fields.Integer, "{label}须为整数"),
    (ma_fields.String, "{label}须为文本"),
)
OTHER_MESSAGE = "{label}的值无效"
SCHEMA_MESSAGES = {"unknown": "没有这个字段，请核对字段名", "type": "请求内容须为JSON对象"}
# The REST schemas built so far in this process, by ``ChineseSchemaMessages._schema_key``.
_SCHEMAS: dict[tuple, tuple] = {}


class ChineseSchemaMessages:
    """REST APIs whose schema refusals (missing, null, wrong type, too long, unknown
    field) answer in Chinese and name the field by its label: one mapping for every
    field of the load schemas, not a message per field. ``rule_checked_columns`` lose
    the schema's length check: the service checks their whole shape and answers with
    its rule's message (F4), as the screens and the import do."""

    rule_checked_columns: tuple[str, ...] = ()

    def _init_model_schemas(self) -> None:
        """The four schemas, built once per process for everything they are made from
        (issue #23: building them was half of ``create_app``, paid again by every app a
        test process builds). They hold no per-app state: the session they name is the
        one ``db.session`` of every app, and a request never changes them."""
        key = self._schema_key()
        cached = _SCHEMAS.get(key)
        if cached is None:
            super()._init_model_schemas()
            for schema in (self.add_model_schema, self.edit_model_schema):
                if schema is None:
                    continue
                schema.error_messages = {**schema.error_messages, **SCHEMA_MESSAGES}
                for name, field in schema.fields.items():
                    self._localise(name, field)
            cached = _SCHEMAS[key] = (self.list_model_schema, self.add_model_schema,
                                      self.edit_model_schema, self.show_model_schema)
        (self.list_model_schema, self.add_model_schema, self.edit_model_schema,
         self.show_model_schema) = cached

    def _schema_key(self) -> tuple:
        """Everything FAB's converter and ``_localise`` read: a class, column list,
        label, validator or session that differs builds schemas of its own."""
        return (type(self), self.datamodel.obj, current_app.appbuilder.session,
                tuple(self.list_columns), tuple(self.add_columns), tuple(self.edit_columns),
                tuple(self.show_columns), self.list_model_schema_name,
                self.add_model_schema_name, self.edit_model_schema_name,
                self.show_model_schema_name, tuple(self.rule_checked_columns),
                tuple((k, str(v)) for k, v in sorted(self.label_columns.items())),
                tuple(sorted(self.validators_columns.items())),
                tuple(id(s) for s in (self.list_model_schema, self.add_model_schema,
                                      self.edit_model_schema, self.show_model_schema)))

    def _localise(self, name: str, field) -> None:
        label = self.label_columns.get(name, name)
        kind = next((text for cls, text in KIND_MESSAGES if isinstance(field, cls)),
                    OTHER_MESSAGE)
        field.error_messages = {key: FIELD_MESSAGES.get(key, kind).format(label=label)
                                for key in field.error_messages}
        if name in self.rule_checked_columns:
            field.validators = [v for v in field.validators if not isinstance(v, Length)]
        for validator in field.validators:
            validator.error = (f"{label}最多{validator.max}个字符"
                               if isinstance(validator, Length) and validator.max
                               else OTHER_MESSAGE.format(label=label))
