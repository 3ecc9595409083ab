"""Chinese answers for the REST schemas' own refusals, for every API of core and of the
plugins (``ScopedModelRestApi`` uses it)."""
from __future__ import annotations

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


class ChineseSchemaMessages:
    """REST APIs whose schema refusals (missing, null, wrong type, too long, unknown
    field) answer in Chinese and name the field by its label: one mapping for every
    field of the load schemas, not a message per field. ``rule_checked_columns`` lose
    the schema's length check: the service checks their whole shape and answers with
    its rule's message (F4), as the screens and the import do."""

    rule_checked_columns: tuple[str, ...] = ()

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        for schema in (self.add_model_schema, self.edit_model_schema):
            if schema is None:
                continue
            schema.error_messages = {**schema.error_messages, **SCHEMA_MESSAGES}
            for name, field in schema.fields.items():
                self._localise(name, field)

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
