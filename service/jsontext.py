"""Parse a JSON object and keep the source text of the items of one of its arrays.

A posted run's cases are stored one row each, as JSON text. Serializing them again after parsing
costs more than parsing the whole body (bench/bench_records.py); the text they arrived in is
already valid JSON for each case, so the store keeps that. The walk uses the json module's own
scanner for every value, so what it accepts and what it builds are what json.loads accepts and
builds; only the punctuation of the top-level object and of that one array is read here.
"""
import json
from json.decoder import WHITESPACE

_skip = WHITESPACE.match
_SEPARATORS = (",", "]")
_VALUE_STARTS = frozenset('{["-0123456789tfn')


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


def _array_with_texts(text: str, index: int) -> tuple[list, list[str], int]:
    """The array starting at `index` ('['), the source text of each item, and the index after it."""
    scan, skip = _scan, _skip  # locals: this loop runs once per case
    items, texts = [], []
    index = skip(text, index + 1).end()
    if text[index:index + 1] == "]":
        return items, texts, index + 1
    while True:
        try:
            item, end = scan(text, index)
        except StopIteration:
            raise _Invalid(f"expecting a value at character {index}") from None
        items.append(item)
        texts.append(text[index:end])
        found = text[end:end + 1]
        if found not in _SEPARATORS:
            end = skip(text, end).end()
            found = text[end:end + 1]
        if found == "]":
            return items, texts, end + 1
        if found != ",":
            raise _Invalid(f"expecting ',' or ']' at character {end}")
        index = end + 1
        if text[index:index + 1] not in _VALUE_STARTS:
            index = skip(text, index).end()


def loads_keeping(text: str, key: str) -> tuple[object, list[str] | None]:
    """json.loads(text), and the source text of each item of the top-level object's array `key`
    (None when the body is not an object or `key` is not an array). ValueError when invalid."""
    index = _skip(text, 0).end()
    if text[index:index + 1] != "{":
        return json.loads(text, parse_constant=_reject_constant), None
    try:
        return _object(text, index, key)
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


def _object(text: str, index: int, key: str) -> tuple[dict, list[str] | None]:
    body, texts = {}, None
    index = _skip(text, index + 1).end()
    if text[index:index + 1] == "}":
        index += 1
    else:
        while True:
            if text[index:index + 1] != '"':
                raise _Invalid(f"expecting a property name in double quotes at character {index}")
            name, index = _value(text, index)
            _, index = _punctuation(text, index, ":")
            if name == key and text[index:index + 1] == "[":
                value, texts, index = _array_with_texts(text, index)
            else:
                value, index = _value(text, index)
                if name == key:
                    texts = None  # a later duplicate key wins, as in json.loads
            body[name] = value
            found, index = _punctuation(text, index, ",}")
            if found == "}":
                break
    if _skip(text, index).end() != len(text):
        raise _Invalid(f"extra data at character {_skip(text, index).end()}")
    return body, texts
