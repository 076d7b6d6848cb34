"""Load and faults on real gunicorn with two workers and tiny models, on 127.0.0.1 only.

Load: AIQA_LOAD_CLIENTS clients (default 8) for AIQA_LOAD_SECONDS (default 10) on mixed endpoints;
`make soak` runs 32 clients for 30 s. Every loop is bounded in time and count and stops by itself.
Faults: a worker killed during load is replaced; a model that fails to load leaves /readyz 503
naming it while the others serve; SIGTERM lets in-flight requests finish.
"""
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from aiqa_fixtures import MIX, Load, request_counts, tiny_server, wait_until, worker_pids

pytestmark = pytest.mark.slow
CLIENTS = int(os.environ.get("AIQA_LOAD_CLIENTS", "8"))
SECONDS = float(os.environ.get("AIQA_LOAD_SECONDS", "10"))
@pytest.fixture(scope="module")
def two_workers(tiny_models, tmp_path_factory):
    server = tiny_server(tmp_path_factory.mktemp("load"), tiny_models).start()
    yield server
    server.stop()


def test_the_master_never_loads_torch_so_cuda_starts_only_after_the_fork(two_workers):
    def libraries(pid):
        return Path(f"/proc/{pid}/maps").read_text()

    assert "libtorch" not in libraries(two_workers.process.pid)
    assert all("libtorch" in libraries(pid) for pid in worker_pids(two_workers.process.pid))


def test_mixed_load_gets_no_errors_but_429s_and_metrics_count_every_request(two_workers):
    before = request_counts(two_workers)
    load = Load(two_workers.url, CLIENTS, SECONDS).start().join()
    after = request_counts(two_workers)
    assert load.errors == []
    assert set(load.statuses) <= {200, 429}, load.statuses
    assert load.statuses[200] > 0
    counted = {label: after[label] - before[label] for label in load.sent}
    assert counted == dict(load.sent)
    assert after["/metrics"] - before["/metrics"] == 1  # the scrape before; this one counts after itself


def test_a_killed_worker_is_replaced_and_requests_after_it_succeed(two_workers):
    master = two_workers.process.pid
    workers = worker_pids(master)
    assert len(workers) == 2
    load = Load(two_workers.url, CLIENTS, max(4.0, SECONDS / 2), keep_alive=False).start()
    time.sleep(1)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    load.join()
    # Only what was in flight on the killed worker may fail, one request per client at most: a refused
    # or reset connection, or a response cut off mid-body.
    in_flight = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
    assert len(load.errors) <= CLIENTS and all(isinstance(e, in_flight) for e in load.errors)
    assert set(load.statuses) <= {200, 429}
    wait_until(lambda: len(worker_pids(master) - {victim}) == 2, 120, "no replacement worker")
    replacement = (worker_pids(master) - workers).pop()
    statuses = Counter()

    def replacement_answered():  # its first answer creates its metrics file
        statuses[requests.post(two_workers.url + "/v1/classify", json=MIX[2][2], timeout=60).status_code] += 1
        return any(two_workers.metrics_dir.glob(f"counter_{replacement}.db"))

    wait_until(replacement_answered, 120, "the replacement worker answered no request")
    assert set(statuses) == {200}


def test_a_model_that_fails_to_load_leaves_readyz_503_naming_it_while_the_rest_serve(tiny_models, tmp_path):
    broken = {"name": "broken", "task": "text-classification", "source": f"dir:{tmp_path / 'no-such-model'}"}
    server = tiny_server(tmp_path, tiny_models, extra_models=[broken], workers=1).start(wait_ready=False)
    try:
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.headers["Content-Type"] == "application/problem+json"
        assert set(ready.json()["missing"]) == {"broken"} and "broken" in ready.json()["detail"]
        states = {m["name"]: m["state"] for m in requests.get(server.url + "/v1/models", timeout=10).json()["models"]}
        assert states == {"tiny-classifier": "ready", "tiny-lm": "ready", "tiny-qa": "ready",
                          "tiny-ner": "ready", "broken": "failed"}
        served = requests.post(server.url + "/v1/classify", json=MIX[2][2], timeout=30)
        assert served.status_code == 200
        refused = requests.post(server.url + "/v1/classify", json={"model": "broken", "inputs": "x"}, timeout=30)
        assert refused.status_code == 503 and refused.json()["type"] == "urn:aiqa:problem:model-unavailable"
    finally:
        server.stop()


def slow_request(url: str, results: list):
    """A bootstrap of a few seconds; records its status, F1 and when it finished."""
    body = {"predictions": [i % 4 for i in range(1000)], "references": [i % 3 for i in range(1000)],
            "params": {"average": "macro"}, "confidence": {"resamples": 3000, "seed": 1}}
    response = requests.post(url + "/v1/metrics/f1", json=body, timeout=120)
    results.append((response.status_code, response.json()["result"]["f1"], time.monotonic()))


def test_sigterm_lets_in_flight_requests_finish(tiny_models, tmp_path):
    server = tiny_server(tmp_path, tiny_models, workers=1, AIQA_GRACEFUL_TIMEOUT="60").start()
    try:
        results = []
        threads = [threading.Thread(target=slow_request, args=(server.url, results)) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)  # the master, as `docker stop` or the kubelet does
        for thread in threads:
            thread.join(150)
        assert server.process.wait(90) == 0
    finally:
        server.stop()
    assert [status for status, _, _ in results] == [200, 200]
    assert results[0][1] == results[1][1]
    assert max(finished for _, _, finished in results) > signalled, "the requests were still in flight at SIGTERM"
    assert "Handling signal: term" in server.log_path.read_text()
