"""Metrics over HTTP on a real gunicorn server (the default profile with its warm models, offline)."""
import pytest
import requests

pytestmark = pytest.mark.slow
PREDICTIONS, REFERENCES = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]


def post(server, path, **kwargs):
    return requests.post(f"{server.url}{path}", timeout=120, **kwargs)


def test_the_seed_courses_example(live_server):
    body = {"predictions": PREDICTIONS, "references": REFERENCES}
    expected = {"accuracy": 0.8, "f1": 0.8, "precision": 0.6667, "recall": 1.0}
    for name, value in expected.items():
        response = post(live_server, f"/v1/metrics/{name}", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["result"][name] == pytest.approx(value, abs=5e-5)
    together = post(live_server, "/v1/metrics", json={"metrics": list(expected), **body}).json()
    assert {r["metric"]: round(r["result"][r["metric"]], 4) for r in together["results"]} == expected


@pytest.mark.parametrize("path, body, status", [
    ("/v1/metrics/accuracy", {"predictions": [0, 1, 1], "references": [0, 1]}, 422),
    ("/v1/metrics/accuracy", {"predictions": [0, None], "references": [0, 1]}, 422),
    ("/v1/metrics/accuracy", {"predictions": [0, "1"], "references": [0, 1]}, 422),
    ("/v1/metrics/accuracy", {"predictions": [0], "references": [0], "params": {"colour": 1}}, 422),
    ("/v1/metrics/acuracy", {"predictions": [0], "references": [0]}, 404),
    ("/v1/metrics/accuracy", {"predictions": [0] * 1_000_001, "references": [0]}, 413),
])
def test_bad_input_is_problem_json_and_the_server_stays_healthy(live_server, path, body, status):
    response = post(live_server, path, json=body)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert requests.get(f"{live_server.url}/livez", timeout=10).status_code == 200
    assert post(live_server, "/v1/metrics/accuracy", json={"predictions": [1], "references": [1]}).status_code == 200


def test_nan_is_a_problem_json_400(live_server):
    response = post(live_server, "/v1/metrics/accuracy", data='{"predictions": [NaN], "references": [1]}',
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"


def test_a_test_set_larger_than_a_model_request_is_accepted(live_server):
    """400k labels make a body of more than 2 MiB, the limit of the model endpoints."""
    predictions = [i % 3 for i in range(400_000)]
    response = post(live_server, "/v1/metrics/f1", json={
        "predictions": predictions, "references": predictions[::-1], "params": {"average": "macro"}})
    assert response.status_code == 200, response.text
    assert len(response.request.body) > 2 * 1024 * 1024


def test_computations_are_counted_in_prometheus(live_server):
    post(live_server, "/v1/metrics/matthews_corrcoef", json={"predictions": [0, 1], "references": [0, 1]})
    exposition = requests.get(f"{live_server.url}/metrics", timeout=10).text
    assert 'aiqa_metric_computations_total{metric="matthews_corrcoef"}' in exposition


def test_a_ground_truth_table_upload(live_server):
    table = "token,reference,prediction\nJohn,B-PER,B-PER\nSmith,I-PER,O\n\nParis,B-LOC,B-LOC\n"
    response = post(live_server, "/v1/metrics/seqeval?scheme=IOB2&mode=strict", data=table.encode(),
                    headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["input"] == {"sentences": 2, "tokens": 3}
    assert answer["result"]["overall_precision"] == 0.5 and answer["result"]["LOC"]["f1"] == 1.0


def test_model_backed_metrics_use_the_warm_models(live_server):
    texts = ["The cat sat on the mat.", "Paris is the capital of France."]
    perplexity = post(live_server, "/v1/metrics/perplexity", json={"predictions": texts}).json()
    endpoint = post(live_server, "/v1/perplexity", json={"inputs": texts}).json()
    assert perplexity["result"]["perplexities"] == pytest.approx(endpoint["perplexities"])
    similarity = post(live_server, "/v1/metrics/semantic_similarity", json={
        "predictions": texts, "references": ["A cat sits on a mat.", "France's capital is Paris."]}).json()
    assert similarity["model"] == "minilm" and all(s > 0.5 for s in similarity["result"]["scores"])


def test_compare_two_models_on_one_data_set(live_server):
    references = [i % 2 for i in range(200)]
    model_a = [r if i % 4 else 1 - r for i, r in enumerate(references)]  # 75% right
    answer = post(live_server, "/v1/metrics/compare", json={
        "metric": "accuracy", "references": references, "predictions_a": model_a, "predictions_b": references,
        "seed": 3}).json()
    assert answer["difference"] == 0.25 and answer["p_value"] < 0.01 and answer["mcnemar"]["p_value"] < 0.01
