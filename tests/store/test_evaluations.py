"""Recorded metric evaluations, on SQLite and on PostgreSQL: the answer is the unrecorded one plus an
id; the history by name, metric, label and time; the quality series Prometheus scrapes."""
import contextlib
import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runs_data import run

F1 = {"predictions": [0, 1, 1, 0, 1, 1], "references": [0, 1, 0, 0, 1, 1], "params": {"average": "macro"},
      "confidence": {"resamples": 50, "seed": 3}}


def samples(api) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(api.get("/metrics").get_data(as_text=True))
            for s in family.samples}


@pytest.mark.parametrize("path, body", [
    ("/v1/metrics/f1", F1),
    ("/v1/metrics", {"metrics": ["accuracy", {"name": "f1", "params": {"average": "macro"}}],
                     "predictions": F1["predictions"], "references": F1["references"]}),
    ("/v1/metrics/compare", {"metric": "accuracy", "references": F1["references"], "predictions_a": F1["predictions"],
                             "predictions_b": F1["references"], "resamples": 50, "seed": 1}),
    ("/v1/metrics/fairness", {"predictions": F1["predictions"], "references": F1["references"],
                              "groups": ["a", "a", "a", "b", "b", "b"]}),
])
def test_a_recorded_answer_is_the_unrecorded_one_plus_its_id(api, path, body):
    plain = api.post(path, json=body).get_json()
    recorded = api.post(path, json={**body, "record": {"name": "nightly", "labels": {"model": "v2"}}}).get_json()
    results = recorded.get("results", [recorded])
    ids = [result.pop("evaluation_id") for result in results]
    assert recorded == plain and len(set(ids)) == len(results)
    for evaluation_id, result in zip(ids, results):
        stored = api.get(f"/v1/evaluations/{evaluation_id}").get_json()
        assert stored["name"] == "nightly" and stored["labels"] == {"model": "v2"} and stored["items"] == 6
        assert stored["metric"] == result["metric"]


def test_the_history_is_newest_first_and_filtered_by_name_metric_and_label(api):
    for predictions, model in (([0, 1, 1, 0], "v1"), ([0, 1, 0, 0], "v2"), ([1, 1, 1, 1], "v2")):
        api.post("/v1/metrics/accuracy", json={"predictions": predictions, "references": [0, 1, 0, 0],
                                               "record": {"name": "intent", "labels": {"model": model}}})
    api.post("/v1/metrics/accuracy", json={"predictions": [0], "references": [0], "record": {"name": "other"}})
    history = api.get("/v1/evaluations?name=intent&metric=accuracy").get_json()["evaluations"]
    assert [e["result"]["accuracy"] for e in history] == [0.25, 1.0, 0.75]
    v2 = api.get("/v1/evaluations?name=intent&label=model:v2").get_json()["evaluations"]
    assert [e["result"]["accuracy"] for e in v2] == [0.25, 1.0]
    first = api.get("/v1/evaluations?name=intent&limit=2").get_json()
    rest = api.get(f"/v1/evaluations?name=intent&limit=2&cursor={first['next']}").get_json()
    assert len(first["evaluations"]) == 2 and len(rest["evaluations"]) == 1 and rest["next"] is None


def test_the_content_hash_is_the_hash_of_the_inputs_whatever_their_key_order(api):
    body = {"predictions": [0, 1], "references": [0, 1], "params": {"average": "macro", "zero_division": 1},
            "record": {"name": "hash"}}
    reordered = json.dumps({"references": [0, 1], "record": {"name": "hash"},
                            "params": {"zero_division": 1, "average": "macro"}, "predictions": [0, 1]})
    first = api.post("/v1/metrics/f1", json=body).get_json()["evaluation_id"]
    second = api.post("/v1/metrics/f1", data=reordered, content_type="application/json").get_json()["evaluation_id"]
    third = api.post("/v1/metrics/f1", json={**body, "predictions": [1, 1]}).get_json()["evaluation_id"]
    hashes = [api.get(f"/v1/evaluations/{i}").get_json()["content_hash"] for i in (first, second, third)]
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.parametrize("record, field", [
    ({"name": 7}, "record"), ({"name": ""}, "record"), ({"labels": {}}, "record"),
    ({"name": "x", "labels": {"n": 1}}, "record"), ({"name": "x", "labels": ["a"]}, "record"),
    ({"name": "x", "colour": "red"}, "record"), ({"name": "night\u0000ly"}, "record"),
    ({"name": "x", "labels": {"model": "v2\ud800"}}, "record.labels.model"),
])
def test_a_bad_record_is_422_naming_it_and_stores_nothing(api, record, field):
    answer = api.post("/v1/metrics/accuracy", json={"predictions": [0], "references": [0], "record": record})
    assert answer.status_code == 422 and field in answer.get_json()["errors"]
    assert api.get("/v1/evaluations").get_json()["evaluations"] == []


def test_an_unknown_evaluation_is_404(api):
    answer = api.get("/v1/evaluations/nope")
    assert answer.status_code == 404 and answer.get_json()["type"] == "urn:aiqa:problem:evaluation-not-found"


def test_prometheus_shows_the_newest_run_and_evaluation(api):
    for predictions in ([0, 1, 0, 0], [0, 1, 1, 0]):
        api.post("/v1/metrics/accuracy", json={"predictions": predictions, "references": [0, 1, 0, 0],
                                               "record": {"name": "nightly-intent"}})
    api.post("/v1/runs", json=run(["passed", "failed", "error"], run_id="p1", started_at="2026-11-01T00:00:00Z"))
    api.post("/v1/runs", json=run(["passed", "passed", "failed"], run_id="p2", started_at="2026-11-02T00:00:00Z"))
    found = samples(api)
    assert found[("aiqa_evaluation_value", (("key", "accuracy"), ("metric", "accuracy"),
                                            ("name", "nightly-intent")))] == 0.75
    target = (("suite", "checkout-bot"), ("target", "http http://bot/chat"))
    assert found[("aiqa_suite_pass_rate", target)] == pytest.approx(2 / 3)
    assert found[("aiqa_suite_cases", (("outcome", "passed"),) + target)] == 2
    assert found[("aiqa_store_up", ())] == 1


def test_the_quality_series_are_bounded_and_a_slow_store_leaves_them_out(store_app):
    api = store_app.test_client()
    for number in range(5):
        api.post("/v1/runs", json=run(["passed"], suite=f"suite-{number}", started_at=f"2026-11-0{number + 1}T00:00:00Z"))
    store_app.config["QUALITY_SERIES_LIMIT"] = 3
    suites = {labels[0][1] for name, labels in samples(api) if name == "aiqa_suite_pass_rate"}
    assert suites == {"suite-4", "suite-3", "suite-2"}  # the most recently run
    engine = store_app.extensions["aiqa.store"].engine
    with slow_store(store_app, engine):
        started = time.monotonic()
        found = samples(api)
        assert time.monotonic() - started < 3
    assert found[("aiqa_store_up", ())] == 0 and not any(name.startswith("aiqa_suite") for name, _ in found)
    assert samples(api)[("aiqa_store_up", ())] == 1  # and back once the store answers again


@contextlib.contextmanager
def slow_store(app, engine):
    """A store that does not answer the quality query in its time. PostgreSQL: another connection
    holds a lock every reader of `runs` waits for (0.3 s allowed). SQLite's readers never wait in WAL
    mode: there the query is given no time at all, and its progress handler interrupts it."""
    if engine.dialect.name == "postgresql":
        app.config["QUALITY_TIMEOUT_S"] = 0.3
        with engine.connect() as connection:
            connection.exec_driver_sql("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
            yield
            connection.rollback()
    else:
        app.config["QUALITY_TIMEOUT_S"] = 0.0
        yield
    app.config["QUALITY_TIMEOUT_S"] = 2.0


def test_suite_names_and_targets_of_any_text_come_back_from_the_exposition_as_sent(api):
    suite = 'quote " back\\slash\nnew line ü'
    api.post("/v1/runs", json=run(["passed", "failed"], suite=suite, url='http://bot/"x"\\y'))
    found = samples(api)
    target = (("suite", suite), ("target", 'http http://bot/"x"\\y'))
    assert found[("aiqa_suite_pass_rate", target)] == 0.5
    assert found[("aiqa_suite_cases", (("outcome", "failed"),) + target)] == 1
