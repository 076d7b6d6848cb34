"""Parse a JSON object and keep the source text of one of its top-level values.

A posted run's cases are stored one row each, as JSON text. Serializing them again after parsing
costs more than parsing the whole body (bench/bench_records.py); the text the cases array arrived in
is already valid JSON, so the store splits that into rows itself (store.runs.insert). The walk uses
the json module's own scanner for every value, so what it accepts and what it builds are what
json.loads accepts and builds; only the punctuation of the top-level object is read here.
"""
import json
from json.decoder import WHITESPACE

_skip = WHITESPACE.match


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


_scan = json.JSONDecoder(parse_constant=_reject_constant).scan_once


class _Invalid(ValueError):
    pass


def _value(text: str, index: int):
    try:
        return _scan(text, index)
    except StopIteration:
        raise _Invalid(f"expecting a value at character {index}") from None


def _punctuation(text: str, index: int, allowed: str) -> tuple[str, int]:
    index = _skip(text, index).end()
    found = text[index:index + 1]
    if not found or found not in allowed:
        raise _Invalid(f"expecting one of {allowed!r} at character {index}")
    return found, _skip(text, index + 1).end()


def loads_keeping(text: str, key: str) -> tuple[object, str | None]:
    """json.loads(text), and the source text of the top-level object's value `key` (None when the
    body is not an object or has no `key`). ValueError when invalid."""
    index = _skip(text, 0).end()
    if text[index:index + 1] != "{":
        return json.loads(text, parse_constant=_reject_constant), None
    try:
        return _object(text, index, key)
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


def _object(text: str, index: int, key: str) -> tuple[dict, str | None]:
    body, kept = {}, None
    index = _skip(text, index + 1).end()
    if text[index:index + 1] == "}":
        index += 1
    else:
        while True:
            if text[index:index + 1] != '"':
                raise _Invalid(f"expecting a property name in double quotes at character {index}")
            name, index = _value(text, index)
            _, start = _punctuation(text, index, ":")
            body[name], index = _value(text, start)
            if name == key:
                kept = text[start:index]  # a later duplicate key wins, as in json.loads
            found, index = _punctuation(text, index, ",}")
            if found == "}":
                break
    if _skip(text, index).end() != len(text):
        raise _Invalid(f"extra data at character {_skip(text, index).end()}")
    return body, kept
