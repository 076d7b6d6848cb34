"""The Postman collection exercises every operation of openapi.yaml and tests each answer."""
import json
import re

import pytest
import yaml

from aiqa_fixtures import ROOT

COLLECTION = json.loads((ROOT / "postman" / "aiqa.postman_collection.json").read_text())
ENVIRONMENT = json.loads((ROOT / "postman" / "aiqa.postman_environment.json").read_text())
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
METHODS = {"get", "post", "put", "patch", "delete"}


def requests_of(items):
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item


def operation_of(method: str, raw_url: str) -> tuple[str, str] | None:
    """The documented (METHOD, path template) a request hits; literal segments win, as in routing."""
    path = raw_url.replace("{{baseUrl}}", "").split("?")[0]
    matches = [template for template in SPEC["paths"] if method.lower() in SPEC["paths"][template]
               and re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path)]
    return (method, min(matches, key=lambda t: t.count("{"))) if matches else None


def test_the_collection_is_postman_v2_1():
    assert COLLECTION["info"]["schema"].endswith("/v2.1.0/collection.json")


def test_every_operation_has_a_request():
    documented = {(m.upper(), path) for path, item in SPEC["paths"].items() for m in item if m in METHODS}
    covered = {operation_of(r["request"]["method"], r["request"]["url"]["raw"]) for r in requests_of(COLLECTION["item"])}
    assert documented - covered == set()


@pytest.mark.parametrize("item", list(requests_of(COLLECTION["item"])), ids=lambda item: item["name"])
def test_every_request_tests_its_status(item):
    tests = [e for e in item.get("event", []) if e["listen"] == "test"]
    assert tests and any("to.have.status(" in line for line in tests[0]["script"]["exec"])


def test_there_is_a_chatbot_test_folder_and_an_environment_for_url_and_key():
    folders = {item["name"]: item for item in COLLECTION["item"] if "item" in item}
    assert len(folders["Chatbot test"]["item"]) >= 3
    assert {"baseUrl", "apiKey"} <= {value["key"] for value in ENVIRONMENT["values"]}
    assert COLLECTION["auth"]["bearer"][0]["value"] == "{{apiKey}}"


def metrics_computed(item) -> set:
    """The metrics a request computes: the one in its /v1/metrics/<name> path, those its body names."""
    request = item["request"]
    if request["method"] != "POST":
        return set()
    path = request["url"]["raw"].replace("{{baseUrl}}", "").split("?")[0]
    named = {path.rsplit("/", 1)[1]} if re.fullmatch(r"/v1/metrics/[a-z_0-9]+", path) else set()
    named -= {"compare", "fairness"}  # operations, not metrics
    try:
        body = json.loads(request.get("body", {}).get("raw") or "{}")
    except json.JSONDecodeError:  # a CSV table
        return named
    listed = body.get("metrics", []) if path == "/v1/metrics" else []
    return named | {m if isinstance(m, str) else m["name"] for m in listed} | (
        {body["metric"]} if path == "/v1/metrics/compare" else set())


def test_every_metric_of_the_catalog_is_computed_by_a_request():
    from service.scoring.specs import SPECS
    computed = set().union(*map(metrics_computed, requests_of(COLLECTION["item"])))
    assert set(SPECS) - computed == set()
