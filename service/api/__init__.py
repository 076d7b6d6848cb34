"""Blueprints, one per capability, and the one helper every view uses to read its body.

Every JSON body is parsed under limits besides the byte limit (413): a number must fit its type (a
float finite, 1e400 is not; an integer within 64 bits), a string must be text (an escaped half of a
surrogate pair, "\\ud800", is valid JSON but not Unicode: a 422 naming the field), and nesting
stops at the parser's recursion limit (a 400). The number and Unicode checks look closer only when
a scan of the raw bytes finds what they look for, so a plain body pays a few microseconds.
"""
import json
import math
import re

from flask import request
from marshmallow import ValidationError

from ..errors import MalformedRequest, UnsupportedMediaType, ValidationFailed
from ..jsontext import loads_keeping

INT64 = 2**63
# json's decoder recurses once per level and stops at Python's recursion limit, less the frames of
# the request below it: about this many levels for a body (RecursionError, a 400).
NESTING_LIMIT = 900
# What could be a number out of range (an exponent of 3 digits, 19 or more digits) or an escaped
# surrogate; a match is only a reason to look closer.
_SUSPECT_NUMBER = re.compile(rb"[:,\[]\s*-?(?:\d+(?:\.\d*)?[eE][+-]?\d{3}|\d{19})")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
UNICODE_PROBLEM = "Not valid Unicode: it holds half of a surrogate pair (an escape such as \\ud800 alone)."


class _OutOfRange(ValueError):
    pass


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _OutOfRange(f"the number {text[:40]} is out of range for a 64-bit float")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if not -INT64 <= value < INT64:
        raise _OutOfRange(f"the integer {text[:40]}{'...' if len(text) > 40 else ''} does not fit in 64 bits")
    return value


def _check_numbers(raw: bytes) -> None:
    """Parse again with range checks, where the raw bytes hold a number that may be out of range."""
    if _SUSPECT_NUMBER.search(raw):
        try:
            json.loads(raw, parse_float=_finite, parse_int=_int64, parse_constant=_reject_constant)
        except _OutOfRange as exc:
            raise ValidationFailed(f"the body holds a number out of range: {exc}",
                                   errors={"_schema": [f"A number is out of range: {exc}."]}) from None


def unpaired_surrogates(data, path: str = "") -> dict:
    """{field path: [problem]} for each string (or key) of `data` that holds half a surrogate pair."""
    found, stack = {}, [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                found[where or "_schema"] = [UNICODE_PROBLEM]
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else str(key)
                if _SURROGATE.search(key):
                    found[where or "_schema"] = [f"A key is not valid Unicode: {UNICODE_PROBLEM}"]
                    continue
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
    return found


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
    except RecursionError:
        raise MalformedRequest("the body nests arrays or objects deeper than the parser's limit "
                               f"(about {NESTING_LIMIT} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    _check_numbers(raw)
    if _SURROGATE_ESCAPE.search(raw):
        found = unpaired_surrogates(data)
        if found:
            raise ValidationFailed(f"not valid Unicode: {', '.join(sorted(found))}", errors=found)
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
