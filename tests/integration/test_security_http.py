"""API keys, the rate limit, request ids and what stays out of answers and logs, on real gunicorn."""
import time

import pytest
import requests

from aiqa_fixtures import LiveServer, write_profile

pytestmark = pytest.mark.slow
CANARY = "zebra canary 7781 private patient note"


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    profile = write_profile(tmp / "p.yaml", [
        {"name": "tiny-classifier", "task": "text-classification", "source": f"dir:{tiny_models['bert-classifier']}"}])
    # One worker, so the whole rate is kept in one bucket per key (buckets are per worker process).
    env = {"AIQA_MODELS": profile, "AIQA_API_KEYS": "alpha-key,beta-key,logs-key",
           "AIQA_RATE_LIMIT": "0.5", "AIQA_RATE_LIMIT_BURST": "3"}
    live = LiveServer(tmp, env=env, workers=1).start()
    yield live
    live.stop()


def classify(server, key=None, text="I love this", **headers):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return requests.post(f"{server.url}/v1/classify", json={"inputs": text}, headers=headers, timeout=30)


def test_without_a_key_401_with_a_wrong_key_401_with_a_right_key_200(server):
    missing, wrong, right = classify(server), classify(server, "gamma-key"), classify(server, "alpha-key")
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    for refused in (missing, wrong):
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:aiqa:problem:unauthorized"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert right.json()["model"] == "tiny-classifier"


def test_probes_and_metrics_need_no_key(server):
    for path in ("/livez", "/readyz", "/metrics"):
        assert requests.get(server.url + path, timeout=10).status_code == 200


def test_over_the_rate_429_with_retry_after_then_served_again(server):
    statuses = [classify(server, "beta-key").status_code for _ in range(8)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses  # a burst of 3, then 1 every 2 s
    assert set(statuses) == {200, 429}
    limited = classify(server, "beta-key", **{"X-Request-ID": "limited-1"})
    assert limited.status_code == 429 and limited.headers["X-Request-ID"] == "limited-1"
    assert limited.json()["type"] == "urn:aiqa:problem:rate-limited"
    retry_after = int(limited.headers["Retry-After"])
    assert classify(server, "alpha-key").status_code == 200  # another key has its own bucket
    time.sleep(retry_after)
    assert classify(server, "beta-key").status_code == 200


def test_request_ids_are_echoed_even_on_refusals(server):
    refused = classify(server, **{"X-Request-ID": "trace-401"})
    assert refused.status_code == 401 and refused.headers["X-Request-ID"] == "trace-401"
    forged = requests.get(server.url + "/livez", headers={"X-Request-ID": "x" * 500}, timeout=10)
    assert len(forged.headers["X-Request-ID"]) == 32  # too long to echo: a new id instead


def test_texts_stay_out_of_logs_and_errors_show_no_internals(server):
    bodies = [  # a key of their own, so its burst of 3 lets all three through
        classify(server, "logs-key", text=CANARY),
        classify(server, "logs-key", text=[CANARY, 5]),
        requests.post(f"{server.url}/v1/classify", data=CANARY + "{", timeout=30,
                      headers={"Authorization": "Bearer logs-key", "Content-Type": "application/json"}),
    ]
    assert [b.status_code for b in bodies] == [200, 422, 400]
    for answer in bodies[1:]:
        assert "Traceback" not in answer.text and "site-packages" not in answer.text
    assert CANARY not in server.log_path.read_text()
