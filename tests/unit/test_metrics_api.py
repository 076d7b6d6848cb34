"""The metrics endpoints over HTTP (Flask's test client): answers, catalog, tables and every bad input."""
import json

import pytest

from service import create_app

PREDICTIONS, REFERENCES = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def app():
    return create_app({"LOAD_MODELS": False, "MAX_METRIC_ITEMS": 1000, "MAX_METRIC_CONTENT_LENGTH": 200_000})


@pytest.fixture
def client(app):
    return app.test_client()


def problem(response, status):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


def test_the_seed_courses_example(client):
    answers = client.post("/v1/metrics", json={"metrics": ["accuracy", "f1", "precision", "recall"],
                                               "predictions": PREDICTIONS, "references": REFERENCES}).get_json()
    results = {answer["metric"]: answer["result"] for answer in answers["results"]}
    assert results["accuracy"] == {"accuracy": 0.8}
    assert results["f1"]["f1"] == pytest.approx(0.8)
    assert round(results["precision"]["precision"], 4) == 0.6667
    assert results["recall"] == {"recall": 1.0}


def test_one_metric_echoes_its_params_and_intervals(client):
    body = client.post("/v1/metrics/f1", json={
        "predictions": PREDICTIONS, "references": REFERENCES, "params": {"average": "macro"},
        "confidence": {"method": "bootstrap", "level": 0.9, "resamples": 200, "seed": 5}}).get_json()
    assert body["metric"] == "f1"
    assert body["params"] == {"labels": None, "pos_label": 1, "average": "macro", "zero_division": 0}
    assert body["confidence"] == {"method": "bootstrap", "level": 0.9, "resamples": 200, "seed": 5}
    assert set(body["confidence_intervals"]["f1"]) == {"low", "high", "level"}


def test_several_metrics_with_their_own_params(client):
    body = client.post("/v1/metrics", json={
        "metrics": ["accuracy", {"name": "f1", "params": {"average": "micro"}}, "confusion_matrix"],
        "predictions": ["a", "b", "b"], "references": ["a", "b", "a"]}).get_json()
    assert [r["metric"] for r in body["results"]] == ["accuracy", "f1", "confusion_matrix"]
    assert body["results"][2]["result"] == {"confusion_matrix": [[1, 1], [0, 1]], "labels": ["a", "b"]}


def test_several_metrics_with_intervals_where_there_is_a_scalar(client):
    body = client.post("/v1/metrics", json={
        "metrics": ["accuracy", "confusion_matrix"], "predictions": [0, 1, 1], "references": [0, 1, 0],
        "confidence": {"resamples": 50, "seed": 2}}).get_json()
    assert "accuracy" in body["results"][0]["confidence_intervals"]
    assert "confidence_intervals" not in body["results"][1]


def test_catalog_lists_every_metric_with_inputs_and_parameters(client):
    metrics = {m["name"]: m for m in client.get("/v1/metrics").get_json()["metrics"]}
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "confusion_matrix", "matthews_corrcoef",
                            "exact_match", "bleu", "chrf", "rouge", "seqeval", "perplexity", "semantic_similarity",
                            "mae", "mse", "r_squared", "pearsonr", "spearmanr", "brier_score", "squad", "squad_v2",
                            "wer", "cer", "ter", "google_bleu", "roc_auc"}
    assert set(metrics["roc_auc"]["inputs"]) == {"prediction_scores", "references"}
    assert metrics["mse"]["parameters"]["squared"]["type"] == "boolean"
    assert metrics["mse"]["parameters"]["squared"]["default"] is True
    assert metrics["spearmanr"]["confidence"] is True
    f1 = metrics["f1"]
    assert f1["description"] and set(f1["inputs"]) == {"predictions", "references"}
    assert f1["parameters"]["average"] == {
        "type": "string", "default": "binary", "choices": ["binary", "micro", "macro", "weighted"],
        "description": f1["parameters"]["average"]["description"]}
    assert set(metrics["perplexity"]["inputs"]) == {"predictions"}
    assert metrics["seqeval"]["content_types"] == ["application/json", "text/csv"]
    assert client.get("/v1/metrics/rouge").get_json() == metrics["rouge"]


def test_computations_are_counted(client):
    client.post("/v1/metrics/accuracy", json={"predictions": [1], "references": [1]})
    exposition = client.get("/metrics").get_data(as_text=True)
    assert 'aiqa_metric_computations_total{metric="accuracy"}' in exposition


# -- bad input: always problem+json, never a 500 ---------------------------------------------------
@pytest.mark.parametrize("body, field, words", [
    ({"predictions": [0, 1, 1], "references": [0, 1]}, "references", ["predictions has 3", "references has 2"]),
    ({"predictions": [0, None], "references": [0, 1]}, "predictions", ["Item 1 is null"]),
    ({"predictions": [0, 1.5], "references": [0, 1]}, "predictions", ["Item 1 is float"]),
    ({"predictions": [0, "1"], "references": [0, 1]}, "predictions", ["Mixes integers and strings"]),
    ({"predictions": ["0", "1"], "references": [0, 1]}, "references", ["predictions are strings"]),
    ({"predictions": [0, True], "references": [0, 1]}, "predictions", ["bool"]),
    ({"predictions": [], "references": []}, "predictions", ["empty"]),
    ({"predictions": "0 1", "references": [0, 1]}, "predictions", ["list"]),
    ({"predictions": [0, 1]}, "references", ["needs references"]),
    ({"predictions": [0, 1], "references": [0, 1], "params": {"beta": 2}}, "params", ["beta", "known parameters"]),
    ({"predictions": [0, 1], "references": [0, 1], "params": {"average": "samples"}}, "params", ["average"]),
    ({"predictions": [0, 1], "references": [0, 1], "params": {"average": "macro", "pos_label": 0}}, "params",
     ["pos_label"]),
    ({"predictions": [0, 1], "references": [0, 1], "params": {"labels": ["a"], "average": "macro"}}, "params",
     ["labels"]),
    ({"predictions": [0, 1], "references": [0, 1], "extra": 1}, "extra", ["extra"]),
])
def test_bad_label_input_is_a_422_naming_the_field(client, body, field, words):
    answer = problem(client.post("/v1/metrics/f1", json=body), 422)
    assert field in answer["errors"]
    for word in words:
        assert word in answer["detail"]


def test_a_reference_library_complaint_is_a_422(client):
    answer = problem(client.post("/v1/metrics/f1", json={"predictions": [0, 1, 2], "references": [0, 1, 2]}), 422)
    assert "average" in answer["detail"]


def test_nan_is_not_json(client):
    response = client.post("/v1/metrics/accuracy", data='{"predictions": [NaN], "references": [1]}',
                           content_type="application/json")
    problem(response, 400)


def test_unknown_metric_is_a_404_listing_the_known_ones(client):
    body = problem(client.post("/v1/metrics/acuracy", json={"predictions": [1], "references": [1]}), 404)
    assert "accuracy" in body["known_metrics"] and "accuracy" in body["detail"]
    problem(client.get("/v1/metrics/acuracy"), 404)
    problem(client.post("/v1/metrics", json={"metrics": ["acuracy"], "predictions": [1], "references": [1]}), 404)
    # The name is resolved before the body is read: whatever it holds, an unknown metric is a 404.
    for body in ({"prediction_scores": [0.5]}, {"bogus": 1}, {"predictions": "x", "confidence": 7}):
        problem(client.post("/v1/metrics/acuracy", json=body), 404)
    problem(client.post("/v1/metrics/acuracy", data="not json", content_type="application/json"), 404)


def test_over_the_item_limit_is_a_413(client):
    body = problem(client.post("/v1/metrics/accuracy", json={"predictions": [1] * 1001, "references": [1] * 1001}),
                   413)
    assert "1000" in body["detail"]


def test_over_the_body_limit_is_a_413(client):
    problem(client.post("/v1/metrics/accuracy", json={"predictions": ["x" * 300_000], "references": ["x"]}), 413)


def test_metric_bodies_may_exceed_the_model_endpoints_limit(app):
    app = create_app({"LOAD_MODELS": False, "MAX_CONTENT_LENGTH": 1000})
    body = {"predictions": [1] * 600, "references": [1] * 600}
    assert len(json.dumps(body)) > 1000
    assert app.test_client().post("/v1/metrics/accuracy", json=body).status_code == 200


@pytest.mark.parametrize("name, body, words", [
    ("bleu", {"predictions": ["a", None], "references": ["a", "b"]}, ["Item 1 is null"]),
    ("bleu", {"predictions": ["a"], "references": [[]]}, ["non-empty list"]),
    ("exact_match", {"predictions": ["a"], "references": [["a"]]}, ["Item 0 is list"]),
    ("exact_match", {"predictions": ["a"], "references": ["a"], "params": {"regexes_to_ignore": ["("]}},
     ["regexes_to_ignore"]),
    ("seqeval", {"predictions": [["B-PER", "O"]], "references": [["B-PER"]]}, ["Sentence 0 has 2 predicted"]),
    ("seqeval", {"predictions": [["PER"]], "references": [["O"]]}, ["not O or B-TYPE", "'PER'"]),
    ("seqeval", {"predictions": [[]], "references": [[]]}, ["non-empty list of tags"]),
    ("seqeval", {"predictions": [["E-PER"]], "references": [["O"]], "params": {"mode": "strict", "scheme": "IOB2"}},
     ["seqeval"]),
    ("seqeval", {"predictions": [["O"]], "references": [["O"]], "params": {"mode": "strict"}}, ["scheme"]),
    ("perplexity", {"predictions": ["a text"], "references": ["a text"]}, ["takes no references"]),
    ("semantic_similarity", {"predictions": [" "], "references": ["a"]}, ["non-blank"]),
    ("confusion_matrix", {"predictions": [1], "references": [1], "confidence": {}}, ["no scalar result"]),
])
def test_bad_input_for_other_metrics_is_a_422(client, name, body, words):
    answer = problem(client.post(f"/v1/metrics/{name}", json=body), 422)
    for word in words:
        assert word in answer["detail"]


def test_model_metrics_wait_for_their_model(client):
    problem(client.post("/v1/metrics/perplexity", json={"predictions": ["Some text to score."]}), 503)


def test_wrong_content_type_is_a_415(client):
    problem(client.post("/v1/metrics/accuracy", data="1,1", content_type="text/plain"), 415)
    problem(client.post("/v1/metrics/accuracy", data="reference,prediction\n1,1\n", content_type="text/csv"), 415)


# -- the ground-truth table ------------------------------------------------------------------------
TABLE = """token,reference,prediction
John,B-PER,B-PER
Smith,I-PER,I-PER
lives,O,O

in,O,O
Paris,B-LOC,B-ORG
"""


def post_table(client, text, query=""):
    return client.post(f"/v1/metrics/seqeval{query}", data=text.encode(), content_type="text/csv")


def test_a_csv_table_scores_like_the_json_sentences(client):
    from_table = post_table(client, TABLE).get_json()
    from_json = client.post("/v1/metrics/seqeval", json={
        "predictions": [["B-PER", "I-PER", "O"], ["O", "B-ORG"]],
        "references": [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]}).get_json()
    assert from_table["result"] == from_json["result"]
    assert from_table["input"] == {"sentences": 2, "tokens": 5}


def test_a_csv_table_with_sentence_ids_semicolons_and_a_bom(client):
    text = "\ufeffSentence_ID;Token;Reference;Prediction\n1;John;B-PER;B-PER\n1;Smith;I-PER;I-PER\n1;lives;O;O\n" \
           "2;in;O;O\n2;Paris;B-LOC;B-ORG\n"
    assert post_table(client, text).get_json()["result"] == post_table(client, TABLE).get_json()["result"]


def test_a_csv_table_takes_params_and_confidence_from_the_query(client):
    body = post_table(client, TABLE, "?scheme=IOB2&mode=strict&confidence=bootstrap&resamples=100&seed=1").get_json()
    assert body["params"]["scheme"] == "IOB2" and body["params"]["mode"] == "strict"
    assert body["confidence"]["seed"] == 1 and "overall_f1" in body["confidence_intervals"]


@pytest.mark.parametrize("text, query, words", [
    ("", "", ["empty"]),
    ("token,reference\nJohn,B-PER\n", "", ["prediction"]),
    ("token,reference,prediction\n", "", ["no rows"]),
    ("token,reference,prediction\nJohn,B-PER,\n", "", ["Line 2", "prediction"]),
    ("token,reference,prediction\nJohn,PER,O\n", "", ["not O or B-TYPE"]),
    (TABLE, "?scheme=IOB9", ["scheme"]),
    (TABLE, "?seed=1", ["confidence"]),
    (TABLE, "?colour=red", ["colour"]),
])
def test_a_bad_table_is_a_422(client, text, query, words):
    answer = problem(post_table(client, text, query), 422)
    for word in words:
        assert word in answer["detail"] or word in json.dumps(answer["errors"])


def test_a_table_that_is_not_utf8_is_a_400(client):
    problem(client.post("/v1/metrics/seqeval", data=b"\xff\xfe\x00", content_type="text/csv"), 400)


# -- compare and fairness --------------------------------------------------------------------------
def test_compare_over_http(client):
    body = client.post("/v1/metrics/compare", json={
        "metric": "accuracy", "references": [1] * 40, "predictions_a": [1] * 20 + [0] * 20,
        "predictions_b": [1] * 40, "resamples": 500, "seed": 1}).get_json()
    assert body["difference"] == 0.5 and body["p_value"] < 0.01 and body["mcnemar"]["a_wrong_b_correct"] == 20


@pytest.mark.parametrize("body, status", [
    ({"metric": "accuracy", "references": [1, 0], "predictions_a": [1, 0], "predictions_b": [1]}, 422),
    ({"metric": "confusion_matrix", "references": [1], "predictions_a": [1], "predictions_b": [1]}, 422),
    ({"metric": "nope", "references": [1], "predictions_a": [1], "predictions_b": [1]}, 404),
    ({"metric": "accuracy", "references": [1], "predictions_a": [1], "predictions_b": [1], "resamples": 10**6}, 422),
])
def test_bad_compare_requests(client, body, status):
    problem(client.post("/v1/metrics/compare", json=body), status)


def test_fairness_over_http(client):
    body = client.post("/v1/metrics/fairness", json={
        "predictions": [1, 0, 1, 1], "references": [1, 0, 0, 1], "groups": ["x", "x", "y", "y"]}).get_json()
    assert body["metric"] == "accuracy" and set(body["groups"]) == {"x", "y"}
    assert body["demographic_parity_difference"] == 0.5


@pytest.mark.parametrize("body", [
    {"predictions": [1, 0], "references": [1, 0], "groups": ["x"]},
    {"predictions": [1, 0], "references": [1, 0], "groups": ["x", None]},
    {"predictions": [1, 0], "references": [1, 0], "groups": ["x", "y"], "metric": "bleu"},
    {"predictions": [0, 0], "references": [0, 0], "groups": ["x", "y"]},
])
def test_bad_fairness_requests(client, body):
    problem(client.post("/v1/metrics/fairness", json=body), 422)


def test_the_openapi_spec_covers_every_metrics_route(app):
    from pathlib import Path

    import yaml
    from openapi_spec_validator import validate
    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
    validate(spec)
    routes = {rule.rule.replace("<metric:name>", "{name}") for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("metrics.")}
    assert routes <= set(spec["paths"])


def test_options_lists_exactly_the_documented_methods(client):
    """compare and fairness share the /v1/metrics/ prefix with a metric's name; a metric may not be
    named after them, so their Allow header lists their own methods only."""
    for path, methods in [("/v1/metrics/compare", {"POST", "OPTIONS"}), ("/v1/metrics/fairness", {"POST", "OPTIONS"}),
                          ("/v1/metrics/f1", {"GET", "HEAD", "POST", "OPTIONS"})]:
        allowed = {m.strip() for m in client.options(path).headers["Allow"].split(",")}
        assert allowed == methods, path
    problem(client.get("/v1/metrics/compare"), 405)


def test_the_endpoint_label_names_the_route_without_its_converter(client):
    client.post("/v1/metrics/accuracy", json={"predictions": [1], "references": [1]})
    exposition = client.get("/metrics").get_data(as_text=True)
    assert 'endpoint="/v1/metrics/<name>"' in exposition and "metric:name" not in exposition
