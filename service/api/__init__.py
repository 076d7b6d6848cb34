"""Blueprints, one per capability, and the one helper every view uses to read its body."""
import json

from flask import request
from marshmallow import ValidationError

from ..errors import MalformedRequest, UnsupportedMediaType, ValidationFailed
from ..jsontext import loads_keeping


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def read_json():
    """The request body as a JSON object: 415 for another content type, 400 when it does not parse."""
    return _read_json(lambda raw: (json.loads(raw, parse_constant=_reject_constant), None))[0]


def read_json_keeping(key: str) -> tuple[dict, str | None]:
    """read_json(), and the text the body's value `key` was sent as (jsontext)."""
    return _read_json(lambda raw: loads_keeping(raw.decode("utf-8"), key))


def _read_json(parse):
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send the body as application/json (got {request.mimetype or 'no content type'!r})")
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH is enforced here (413)
    try:
        data, texts = parse(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", errors={"_schema": ["Must be an object."]})
    return data, texts


def load_body(schema, data=None):
    """Validate the JSON body with `schema`; invalid fields become a 422 naming each one."""
    data = read_json() if data is None else data
    try:
        return schema.load(data)
    except ValidationError as exc:
        fields = ", ".join(sorted(map(str, exc.messages))) if isinstance(exc.messages, dict) else ""
        raise ValidationFailed(f"invalid fields: {fields}" if fields else "invalid request",
                               errors=exc.messages) from None


def register_blueprints(app) -> None:
    from . import bias, classify, generate, health, images, metrics, models, ner, perplexity, qa, runs, similarity
    for module in (health, models, classify, perplexity, generate, similarity, bias, metrics, qa, ner, images, runs):
        app.register_blueprint(module.bp)
