"""Batching and backpressure through a real gunicorn server."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from aiqa_fixtures import LiveServer, write_profile

pytestmark = pytest.mark.slow
LONG = " ".join(f"token{i}" for i in range(400))
QUESTION = {"question": "Where?", "context": "Paul lives in Madrid, 9:40."}
# Work that queues: long perplexity windows, and span QA on the causal LM (its own batcher).
BUSY = {
    "perplexity": ("/v1/perplexity", {"model": "tiny-lm", "inputs": [LONG], "max_length": 64, "stride": 2}),
    "span QA": ("/v1/qa", {"model": "tiny-lm", "inputs": [QUESTION] * 4, "max_answer_len": 3}),
    # 24 generations: 16 rows run (twice max_batch_size), the queue (of 1) holds the next, the rest
    # are refused.
    "generation": ("/v1/generate", {"model": "tiny-lm", "prompt": "Hello", "max_new_tokens": 48}),
}
# (path, body, request timeout): work that takes several times its timeout.
SLOW = {
    "perplexity": ("/v1/perplexity", {"model": "tiny-lm", "inputs": [LONG] * 8, "max_length": 64, "stride": 1}, 0.05),
    "span QA": ("/v1/qa", {"model": "tiny-lm", "inputs": [QUESTION] * 16, "max_answer_len": 3}, 0.05),
    # 60 decode steps of ~2 ms
    "generation": ("/v1/generate", {"model": "tiny-lm", "prompt": "Hi", "max_new_tokens": 60}, 0.01),
}


def metric(server, name, **labels) -> float:
    text = requests.get(server.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def server_with(tmp_path, tiny_models, **env):
    profile = write_profile(tmp_path / "p.yaml", [
        # The plain QA prompt: the 64-token window cannot hold the chat template's.
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}",
         "options": {"max_batch_size": 8, "max_wait_ms": 20, "max_gap_ms": 0, "chat_template": False}},
    ])
    return LiveServer(tmp_path, env={"AIQA_MODELS": profile, **env}).start()


@pytest.fixture(scope="module")
def batching_server(tmp_path_factory, tiny_models):
    server = server_with(tmp_path_factory.mktemp("batching"), tiny_models)
    yield server
    server.stop()


def test_64_concurrent_requests_get_their_own_answers_in_order(batching_server):
    texts = [[f"request {i} says " + "word " * (i % 7 + 1), f"and {i} again"] for i in range(64)]
    url = batching_server.url + "/v1/perplexity"
    alone = [requests.post(url, json={"inputs": t, "max_length": 16, "stride": 8}).json() for t in texts[:8]]
    before_items = metric(batching_server, "aiqa_batch_size_sum", model="tiny-lm")
    before_batches = metric(batching_server, "aiqa_batch_size_count", model="tiny-lm")
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(lambda t: requests.post(url, json={"inputs": t, "max_length": 16, "stride": 8},
                                                        timeout=60).json(), texts))
    for first, again in zip(alone, answers[:8]):
        assert again["perplexities"] == pytest.approx(first["perplexities"], rel=1e-5)
    for t, answer in zip(texts, answers):
        assert len(answer["perplexities"]) == 2 and len(answer["token_counts"]) == 2
    items = metric(batching_server, "aiqa_batch_size_sum", model="tiny-lm") - before_items
    batches = metric(batching_server, "aiqa_batch_size_count", model="tiny-lm") - before_batches
    assert items > batches, "concurrent requests never shared a forward pass"
    assert metric(batching_server, "aiqa_queue_duration_seconds_count", model="tiny-lm") >= items


def test_concurrent_generations_share_decode_steps_and_keep_their_texts(batching_server):
    url = batching_server.url + "/v1/generate"
    bodies = [{"prompt": f"Request {i} begins", "max_new_tokens": 10 + 4 * i, "temperature": 0.9 * (i % 2),
               "seed": i} for i in range(8)]
    alone = [requests.post(url, json=body, timeout=60).json() for body in bodies]

    def batches_over_one() -> float:
        text = requests.get(batching_server.url + "/metrics", timeout=10).text
        buckets = {s.labels["le"]: s.value for family in text_string_to_metric_families(text) for s in family.samples
                   if s.name == "aiqa_batch_size_bucket" and s.labels.get("model") == "tiny-lm"}
        return buckets["+Inf"] - buckets["1.0"]

    before = batches_over_one()
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda body: requests.post(url, json=body, timeout=60).json(), bodies))
    assert together == alone
    assert batches_over_one() > before, "no decode step ran more than one generation"


@pytest.mark.parametrize("work", list(BUSY))
def test_full_queue_answers_429_with_retry_after(tmp_path, tiny_models, work):
    path, body = BUSY[work]
    server = server_with(tmp_path, tiny_models, AIQA_MAX_QUEUE="1", AIQA_THREADS="32")
    try:
        with ThreadPoolExecutor(24) as pool:
            responses = list(pool.map(lambda _: requests.post(server.url + path, json=body, timeout=120), range(24)))
        codes = {r.status_code for r in responses}
        assert codes <= {200, 429} and 429 in codes and 200 in codes
        rejected = next(r for r in responses if r.status_code == 429)
        assert int(rejected.headers["Retry-After"]) >= 1
        assert rejected.headers["Content-Type"] == "application/problem+json"
        assert requests.get(server.url + "/readyz").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("work", list(SLOW))
def test_request_timeout_answers_504_and_server_stays_healthy(tmp_path, tiny_models, work):
    path, body, timeout_s = SLOW[work]
    # Work admitted whatever its estimate (AIQA_MAX_WORK_S far above the timeout): this is the path
    # of work that was let in and did not finish; admission's refusal is tests/unit/test_admission.py's.
    server = server_with(tmp_path, tiny_models, AIQA_REQUEST_TIMEOUT_S=str(timeout_s), AIQA_MAX_WORK_S="36000")
    try:
        response = requests.post(server.url + path, json=body, timeout=120)
        assert response.status_code == 504 and response.json()["type"] == "urn:aiqa:problem:timeout"
        assert requests.get(server.url + "/livez").status_code == 200
    finally:
        server.stop()


def test_deterministic_mode_gives_identical_scores(tmp_path, tiny_models):
    server = server_with(tmp_path, tiny_models, AIQA_DETERMINISTIC="true")
    try:
        body = {"model": "tiny-lm", "inputs": ["some words here", LONG[:300]], "max_length": 32, "stride": 16}
        url = server.url + "/v1/perplexity"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: requests.post(url, json=body, timeout=60).json(), range(8)))
        assert all(a["perplexities"] == answers[0]["perplexities"] for a in answers)
    finally:
        server.stop()
