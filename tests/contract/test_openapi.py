"""openapi.yaml is a valid OpenAPI 3.1 document that describes exactly the routes the app serves."""
import re

import pytest
import yaml
from openapi_spec_validator import validate

from aiqa_fixtures import ROOT

SPEC_PATH = ROOT / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def app():
    from service import create_app
    return create_app({"LOAD_MODELS": False})


def documented_operations(spec) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def served_operations(app) -> set[tuple[str, str]]:
    """(METHOD, path) of every rule, with Flask's <converter:name> written as OpenAPI's {name}. The
    pages under /ui/ are for people, not programs: HTML, described in the README and tested in
    tests/ui, so they are no part of the API's contract."""
    return {(method, re.sub(r"<(?:[a-z_]+:)?(\w+)>", r"{\1}", rule.rule))
            for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
            if not rule.rule.startswith("/ui/")}


def test_the_document_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_route_is_documented_and_every_documented_route_is_served(spec, app):
    served, documented = served_operations(app), documented_operations(spec)
    assert served - documented == set(), "served but not in openapi.yaml"
    assert documented - served == set(), "in openapi.yaml but not served"


def test_every_operation_has_an_id_a_summary_and_its_error_responses(spec):
    ids = []
    for path, item in spec["paths"].items():
        for method in METHODS & set(item):
            operation = item[method]
            ids.append(operation["operationId"])
            assert operation.get("summary"), (method, path)
            # Any route may be refused for a missing key or over the rate limit.
            assert {"401", "429"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(operation["responses"]), (method, path)
    assert len(ids) == len(set(ids))


def test_every_request_body_has_an_example(spec):
    for path, item in spec["paths"].items():
        for method in METHODS & set(item):
            for media, content in item[method].get("requestBody", {}).get("content", {}).items():
                assert "example" in content or "examples" in content, (method, path, media)


def test_the_served_document_is_the_file(app):
    with app.test_client().get("/openapi.yaml") as response:
        assert response.status_code == 200 and response.mimetype == "application/yaml"
        assert response.data == SPEC_PATH.read_bytes()


def test_the_docs_page_loads_its_assets_from_the_service_only(app):
    client = app.test_client()
    page = client.get("/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and not [a for a in assets if "//" in a], "no asset may come from another host"
    for asset in assets:
        with client.get("/" + asset) as response:
            assert response.status_code == 200 and len(response.data) > 100, asset
    assert client.get("/docs/../openapi.yaml").status_code == 404
    assert client.get("/docs/LICENSE").status_code == 404


def test_the_served_document_states_the_limits_the_server_runs_with(spec):
    from service import create_app
    from service.api.docs import settings_of, with_settings
    marked = {name for _, _, name in settings_of(spec)}
    assert {"MAX_RESAMPLES", "MAX_METRIC_ITEMS", "MAX_ITEMS", "MAX_TEXT_CHARS", "MAX_NEW_TOKENS", "MAX_IMAGE_SIZE",
            "MAX_IMAGE_STEPS", "MAX_IMAGES"} == marked
    from service.config import DEFAULTS
    assert all(schema[keyword] == DEFAULTS[name] for schema, keyword, name in settings_of(spec)), \
        "the file states the defaults"
    app = create_app({"LOAD_MODELS": False, "MAX_IMAGES": 2, "MAX_RESAMPLES": 200})
    with app.test_client().get("/openapi.yaml") as response:
        assert response.status_code == 200 and response.mimetype == "application/yaml"
        served = yaml.safe_load(response.data)
    schemas = served["components"]["schemas"]
    assert schemas["ImageRequest"]["properties"]["num_images"]["maximum"] == 2
    assert schemas["Confidence"]["properties"]["resamples"]["maximum"] == 200
    assert schemas["ImageRequest"]["properties"]["steps"]["maximum"] == DEFAULTS["MAX_IMAGE_STEPS"]
    query = next(p for p in served["paths"]["/v1/metrics/{name}"]["post"]["parameters"] if p.get("name") == "resamples")
    assert query["schema"]["maximum"] == 200
    changed = [(keyword, name) for schema, keyword, name in settings_of(served) if schema[keyword] != DEFAULTS[name]]
    assert sorted(set(changed)) == [("maximum", "MAX_IMAGES"), ("maximum", "MAX_RESAMPLES")]
    assert served == with_settings(spec, app.config)   # nothing else differs from the file


def test_with_api_keys_the_served_document_requires_a_key_but_where_none_is_needed(spec):
    from service import create_app
    app = create_app({"LOAD_MODELS": False, "API_KEYS": "k1,k2"})
    client = app.test_client()
    with client.get("/openapi.yaml") as response:   # exempt: no key needed to read it
        assert response.status_code == 200
        served = yaml.safe_load(response.data)
        assert b"k1" not in response.data
    assert spec["security"] == [{}, {"bearerAuth": []}] and served["security"] == [{"bearerAuth": []}]
    open_paths = {path for path, item in served["paths"].items() for method in METHODS & set(item)
                  if item[method].get("security") == []}
    assert open_paths == {"/livez", "/readyz", "/metrics", "/openapi.yaml", "/docs", "/docs/{asset}"}
    for path in sorted(open_paths - {"/docs/{asset}"}):   # as the server treats them
        assert client.get(path).status_code != 401, path
    assert client.get("/v1/models").status_code == 401


def test_the_documented_pass_rate_gates_are_the_ones_runner_and_service_know(spec):
    from aiqa_client.comparison import GATES
    assert spec["components"]["schemas"]["RunRequest"]["properties"]["pass_rate_gate"]["enum"] == list(GATES)
