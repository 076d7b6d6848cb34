"""loads_keeping parses exactly as json.loads does, and the kept text is its value's own JSON."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.jsontext import loads_keeping

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                            max_size=4), max_leaves=12)


@settings(max_examples=300)
@given(st.dictionaries(st.text(), values, max_size=5), st.lists(values, max_size=5), st.sampled_from([None, 0, 2]))
def test_it_parses_as_json_loads_and_keeps_the_values_text(rest, cases, indent):
    text = json.dumps({**rest, "cases": cases}, indent=indent, ensure_ascii=bool(indent))
    body, kept = loads_keeping(text, "cases")
    assert body == json.loads(text)
    assert json.loads(kept) == cases and kept in text


@pytest.mark.parametrize("text", [
    '{"cases": [1,]}', '{"cases": [1 2]}', '{"a": 1,}', '{"a" 1}', '{a: 1}', '{"cases": [NaN]}', '{"a": Infinity}',
    '{"cases": [1]} x', '{"cases": [1]', '{"cases": [', '{', '{"a": 1} {}', '{"cases": [{"b": }]}', "{'a': 1}",
])
def test_invalid_json_is_refused_as_json_loads_refuses_it(text):
    with pytest.raises(ValueError):
        loads_keeping(text, "cases")


def test_a_later_duplicate_key_wins_and_other_shapes_keep_no_text():
    assert loads_keeping('{"cases": [1], "cases": 2}', "cases") == ({"cases": 2}, "2")
    assert loads_keeping('{"cases": 2, "cases" : [ 3 , {"x": [4]} ] }', "cases") == (
        {"cases": [3, {"x": [4]}]}, '[ 3 , {"x": [4]} ]')
    assert loads_keeping('[1, 2]', "cases") == ([1, 2], None)
    assert loads_keeping(' { } ', "cases") == ({}, None)
