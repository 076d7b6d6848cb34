"""Request schemas: module-level instances; limits come from the app's config at request time.

A field that is invalid raises a ValidationError (422, with per-field messages); a batch larger than
MAX_ITEMS raises PayloadTooLarge (413) so callers know to split the request rather than fix it.
"""
from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .errors import PayloadTooLarge


def _limit(name: str) -> int:
    return current_app.config[name]


def check_text(value, field_name="text"):
    if not isinstance(value, str):
        raise ValidationError("Not a valid string.")
    if not value.strip():
        raise ValidationError("Must not be empty or only whitespace.")
    if len(value) > _limit("MAX_TEXT_CHARS"):
        raise ValidationError(f"Longer than {_limit('MAX_TEXT_CHARS')} characters ({len(value)}).")
    return value


def check_batch(items: list, field_name: str):
    if len(items) > _limit("MAX_ITEMS"):
        raise PayloadTooLarge(
            f"{field_name} has {len(items)} items; the limit is {_limit('MAX_ITEMS')} per request",
            errors={field_name: [f"At most {_limit('MAX_ITEMS')} items."]})


class Text(fields.String):
    """A non-empty string within MAX_TEXT_CHARS."""

    def _deserialize(self, value, attr, data, **kwargs):
        return check_text(value)


class Texts(fields.Field):
    """A bare string or a non-empty list of strings; always deserialised to a list."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return [check_text(value)]
        if not isinstance(value, list):
            raise ValidationError("Must be a string or a list of strings.")
        if not value:
            raise ValidationError("Must not be an empty list.")
        check_batch(value, attr)
        errors, texts = {}, []
        for index, item in enumerate(value):
            try:
                texts.append(check_text(item))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return texts


class Pairs(fields.Field):
    """A non-empty list of [text, text] pairs."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or not value:
            raise ValidationError("Must be a non-empty list of [text, text] pairs.")
        check_batch(value, attr)
        errors, pairs = {}, []
        for index, pair in enumerate(value):
            if not isinstance(pair, list) or len(pair) != 2:
                errors[index] = ["Must be a list of exactly two strings."]
                continue
            try:
                pairs.append((check_text(pair[0]), check_text(pair[1])))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return pairs


class RequestSchema(Schema):
    class Meta:
        unknown = RAISE

    model = fields.String(validate=validate.Length(min=1, max=200))


class ClassifySchema(RequestSchema):
    inputs = Texts(required=True)
    candidate_labels = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(min=2, max=32))
    hypothesis_template = fields.String(validate=[
        validate.Length(min=2, max=500),
        validate.Regexp(r".*\{\}.*", error="Must contain {} where the label goes.")])
    top_k = fields.Integer(validate=validate.Range(min=1))

    @validates_schema
    def unique_labels(self, data, **kwargs):
        labels = data.get("candidate_labels")
        if labels and len(set(labels)) != len(labels):
            raise ValidationError("Labels must be unique.", "candidate_labels")


class PerplexitySchema(RequestSchema):
    inputs = Texts(required=True)
    max_length = fields.Integer(validate=validate.Range(min=2))
    stride = fields.Integer(validate=validate.Range(min=1))

    @validates_schema
    def stride_below_window(self, data, **kwargs):
        max_length, stride = data.get("max_length"), data.get("stride")
        if max_length and stride and stride >= max_length:
            raise ValidationError(
                "Must be smaller than max_length, so every window keeps at least one token of context.", "stride")


class MessageSchema(Schema):
    class Meta:
        unknown = RAISE

    role = fields.String(required=True, validate=validate.OneOf(["system", "user", "assistant"]))
    content = Text(required=True)


class GenerateSchema(RequestSchema):
    prompt = Text()
    messages = fields.List(fields.Nested(MessageSchema), validate=validate.Length(min=1, max=64))
    max_new_tokens = fields.Integer(load_default=64)
    temperature = fields.Float(load_default=0.0, validate=validate.Range(min=0.0, max=2.0), allow_nan=False)
    top_p = fields.Float(load_default=1.0, validate=validate.Range(min=0.0, max=1.0, min_inclusive=False),
                         allow_nan=False)
    seed = fields.Integer(validate=validate.Range(min=0, max=2**32 - 1))

    @validates_schema
    def one_source(self, data, **kwargs):
        if ("prompt" in data) == ("messages" in data):
            raise ValidationError("Give exactly one of prompt or messages.", "prompt")
        limit = _limit("MAX_NEW_TOKENS")
        if not 1 <= data["max_new_tokens"] <= limit:
            raise ValidationError(f"Must be between 1 and {limit}.", "max_new_tokens")


class SimilaritySchema(RequestSchema):
    pairs = Pairs(required=True)


classify_schema = ClassifySchema()
perplexity_schema = PerplexitySchema()
generate_schema = GenerateSchema()
similarity_schema = SimilaritySchema()
