"""Hostile bodies for every operation openapi.yaml documents with a JSON body (so a new operation is
covered without anyone listing it): malformed, not an object, oversized, deeply nested, wrongly
typed, numbers out of range, text that is not Unicode. Every answer is a 4xx problem+json, never a
500, never a hang. Beside it, a fuzz test of the body parser."""
import json
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiqa_fixtures import ROOT

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
METHODS = {"get", "post", "put", "patch", "delete"}
LIMIT = 64 * 1024  # every body limit of the app below, so "oversized" stays small
HANG_S = 30  # a bound that only a hang exceeds


def _example(content: dict):
    if "example" in content:
        return content["example"]
    return next(iter(content["examples"].values()))["value"]


def _resolved(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _types(schema: dict) -> set:
    """The JSON types a schema allows (empty: any)."""
    schema = _resolved(schema)
    kinds = schema.get("type", [])
    found = {kinds} if isinstance(kinds, str) else set(kinds)
    for alternative in schema.get("oneOf", []) + schema.get("anyOf", []):
        inner = _types(alternative)
        if not inner:
            return set()
        found |= inner
    return found | ({"integer"} if "number" in found else set())


WRONG = {"object": {"wrong": [True]}, "array": [[{"wrong": True}]], "string": "wrong", "integer": 12345,
         "boolean": True, "null": None}


def _wrong_values(schema: dict) -> dict:
    """{field: a value of a type its schema does not allow}, for the fields whose type is declared."""
    wrong = {}
    for field, declared in _resolved(schema).get("properties", {}).items():
        allowed = _types(declared)
        if allowed:
            wrong[field] = next(value for kind, value in WRONG.items() if kind not in allowed)
    return wrong


def _operations():
    for path, item in SPEC["paths"].items():
        for method in sorted(METHODS & set(item)):
            content = item[method].get("requestBody", {}).get("content", {}).get("application/json")
            if content is not None:
                url = path.replace("{name}", "accuracy").replace("{run_id}", "no-such-run")
                yield pytest.param(method, url, _example(content), _wrong_values(content["schema"]),
                                   id=f"{method.upper()} {path}")


def _first_string_path(value, path=()):
    """The path to the first string in `value`, so a lone surrogate lands in a real field."""
    if isinstance(value, str):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_string_path(item, (*path, key))
        if found is not None:
            return found
    return None


def _with(value, path, text):
    if not path:
        return text
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = text
    return copy


def hostile_bodies(example: dict, wrong: dict | None = None) -> dict:
    text = json.dumps(example)
    deep = "[" * 5000 + "]" * 5000
    string_path = _first_string_path(example)
    bodies = {
        "malformed": text[:-1].encode(),
        "not JSON at all": b"\x00\xff\xfe not json",
        "invalid UTF-8": text.encode()[:-1] + b"\xff}",
        "an array": json.dumps([example]).encode(),
        "a string": b'"text"',
        "null": b"null",
        "deeply nested": deep.encode(),
        "deeply nested field": text.replace("{", '{"nest": ' + deep + ", ", 1).encode(),
        "oversized": b'{"x": "' + b"a" * (LIMIT + 10) + b'"}',
        "number out of range": text.replace("{", '{"big": 1e400, ', 1).encode(),
        "integer out of range": text.replace("{", '{"big": ' + "9" * 4000 + ", ", 1).encode(),
        "NaN": text.replace("{", '{"n": NaN, ', 1).encode(),
    }
    for key, value in (wrong or {}).items():  # each typed field with a value of another type
        bodies[f"{key} wrongly typed"] = json.dumps({**example, key: value}).encode()
    if string_path is not None:
        bodies["lone surrogate"] = json.dumps(_with(example, string_path, "text \ud800 here")).encode()
    return bodies


@pytest.fixture(scope="module")
def client(tiny_profile, tmp_path_factory):
    from service import create_app
    app = create_app({"MODELS": tiny_profile, "LOAD_IN_BACKGROUND": False, "MAX_CONTENT_LENGTH": LIMIT,
                      "MAX_METRIC_CONTENT_LENGTH": LIMIT, "MAX_RUN_CONTENT_LENGTH": LIMIT,
                      "CACHE_DIR": str(tmp_path_factory.mktemp("hostile"))})
    client = app.test_client()
    # The catalog returns once the metric modules are imported: a fuzz test must not race their import.
    assert client.get("/v1/metrics").status_code == 200
    return client


def assert_refused_well(answer, what: str, elapsed: float):
    assert elapsed < HANG_S, f"{what}: took {elapsed:.0f} s"
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.data[:300]!r}"
    if answer.status_code >= 400:
        assert answer.mimetype == "application/problem+json", what
        problem = answer.get_json()
        assert problem["status"] == answer.status_code and problem["detail"], what


@pytest.mark.parametrize("method, url, example, wrong", list(_operations()))
def test_every_hostile_body_is_a_4xx_problem(client, method, url, example, wrong):
    assert example is not None and wrong, "an operation whose body declares no typed field"
    for name, body in hostile_bodies(example, wrong).items():
        started = time.monotonic()
        answer = client.open(url, method=method.upper(), data=body, content_type="application/json")
        assert_refused_well(answer, f"{name} to {method.upper()} {url}", time.monotonic() - started)
        assert 400 <= answer.status_code < 500, f"{name} to {method.upper()} {url}: {answer.status_code}"


@pytest.mark.parametrize("name, status, field", [
    ("lone surrogate", 422, "inputs[0]"), ("number out of range", 422, "_schema"),
    ("integer out of range", 422, "_schema"), ("deeply nested", 400, None), ("oversized", 413, None),
])
def test_each_limit_is_named(client, name, status, field):
    answer = client.post("/v1/classify", data=hostile_bodies({"inputs": ["fine"]})[name],
                         content_type="application/json")
    assert answer.status_code == status, answer.get_json()
    if field:
        assert field in answer.get_json()["errors"]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=16)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    JSONISH.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["inputs", "predictions", "references", "model", "params", "cases", "suite"]),
                    JSONISH, max_size=4).map(lambda value: json.dumps(value).encode()),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
), st.sampled_from(["/v1/classify", "/v1/metrics/accuracy", "/v1/metrics", "/v1/runs", "/v1/metrics/compare"]))
def test_the_body_parser_never_fails_the_server(client, body, url):
    started = time.monotonic()
    answer = client.post(url, data=body, content_type="application/json")
    assert_refused_well(answer, f"{body[:80]!r} to {url}", time.monotonic() - started)
