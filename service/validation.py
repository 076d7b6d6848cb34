"""Rules that more than one schema or layer applies, each said once."""
from marshmallow import RAISE, Schema, ValidationError, fields


class StrictSchema(Schema):
    """A request schema: a field it does not declare is an error (422), never silently dropped."""

    class Meta:
        unknown = RAISE


class StrictBoolean(fields.Boolean):
    """JSON true or false only: 0, 1, "true" and "yes" are not truth values in a JSON body."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: a number without a fractional part, as JSON Schema's `integer` (2 or 2.0); 2.5,
    2.5e-42, "2" and true are refused, never truncated or converted (query strings, which are text,
    keep fields.Integer)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be an integer (a number without a fractional part).")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictFloat(fields.Float):
    """A JSON number only (an integer is a number): "0.5" and true are not."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Must be a number.")
        return super()._deserialize(value, attr, data, **kwargs)


def stride_below_window(data: dict) -> None:
    """Perplexity windows: `stride` must be smaller than `max_length`, so every window keeps at
    least one token of context (the request schemas and the perplexity metric's parameters)."""
    max_length, stride = data.get("max_length"), data.get("stride")
    if max_length and stride and stride >= max_length:
        raise ValidationError(
            "Must be smaller than max_length, so every window keeps at least one token of context.", "stride")


def window_problems(max_length: int | None, stride: int | None, limit: int) -> dict:
    """{field: message} for a window a model of `limit` tokens cannot read (/v1/perplexity and the
    perplexity metric)."""
    problems = {}
    if max_length and max_length > limit:
        problems["max_length"] = f"At most {limit}."
    if stride and stride >= limit:
        problems["stride"] = f"Less than {limit}."
    return problems
