"""AIQA_ENGINE=process on real gunicorn: two workers hand their model calls to one model process.

Same answers as the models in-process; errors keep their status; requests of both workers meet in
one batch; image job progress and cancel cross the socket; a killed model process gives 503s (no
hang) and is started again; stopping the server stops it.
"""
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from aiqa_fixtures import Load, memory_kb, request_counts, tiny_server, wait_until, worker_pids

pytestmark = pytest.mark.slow
BURST = 16  # requests sent at once, one pair (two texts) each: one full batch of 32 in the model process


@pytest.fixture(scope="module")
def engine_server(tiny_models, tmp_path_factory):
    extra = [
        # Waits up to 3 s for a full batch of BURST (however long between arrivals: no gap), so a
        # burst from both workers is one batch.
        {"name": "tiny-embed", "task": "embeddings", "source": f"dir:{tiny_models['bert-classifier']}",
         "options": {"max_batch_size": 2 * BURST, "max_wait_ms": 3000, "max_gap_ms": 0}},
        {"name": "tiny-sd", "task": "text-to-image", "source": f"dir:{tiny_models['stable-diffusion']}"},
    ]
    tmp = tmp_path_factory.mktemp("engine")
    server = tiny_server(tmp, tiny_models, extra, workers=2, AIQA_ENGINE="process",
                         AIQA_JOBS_DIR=str(tmp / "jobs")).start()
    yield server
    server.stop()


def model_process(server) -> int:
    """The pid of the server's model process (a child of the master, like the workers)."""
    for pid in worker_pids(server.process.pid):
        if b"service.model_process" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise LookupError("no model process")


REQUESTS = [
    ("/v1/classify", {"model": "tiny-classifier", "inputs": ["good", "bad", "a much longer text than the others"]}),
    ("/v1/perplexity", {"model": "tiny-lm", "inputs": ["The cat sat on the mat.", "Hello there"]}),
    ("/v1/generate", {"model": "tiny-lm", "prompt": "Hello", "max_new_tokens": 5, "seed": 11, "temperature": 0.8}),
    ("/v1/qa", {"model": "tiny-qa", "question": "Who?", "context": "Paul lives in Madrid.", "top_k": 2}),
    ("/v1/ner", {"model": "tiny-ner", "inputs": ["Paul lives in Madrid."], "aggregation": "first"}),
    ("/v1/metrics/perplexity", {"predictions": ["The cat sat on the mat."], "params": {"model": "tiny-lm"}}),
]


@pytest.mark.parametrize("path,body", REQUESTS, ids=[path for path, _ in REQUESTS])
def test_answers_equal_those_of_the_models_in_process(engine_server, tiny_app, path, body):
    remote = requests.post(engine_server.url + path, json=body, timeout=60)
    local = tiny_app.test_client().post(path, json=body)
    assert remote.status_code == local.status_code == 200, remote.text
    assert remote.json() == local.get_json()


@pytest.mark.parametrize("path,body,status", [
    ("/v1/classify", {"model": "nope", "inputs": ["x"]}, 404),
    ("/v1/perplexity", {"model": "tiny-classifier", "inputs": ["x"]}, 422),
    ("/v1/perplexity", {"model": "tiny-lm", "inputs": ["a"]}, 422),            # InputError in the model
    ("/v1/qa", {"model": "tiny-qa", "question": "Who? " * 200, "context": "Paul."}, 422),  # InputError
])
def test_errors_keep_their_status_and_place(engine_server, tiny_app, path, body, status):
    remote = requests.post(engine_server.url + path, json=body, timeout=60)
    local = tiny_app.test_client().post(path, json=body)
    assert remote.status_code == local.status_code == status
    assert remote.headers["Content-Type"] == "application/problem+json"
    # The same problem; only the list of known models in a 404's detail differs between the profiles.
    strip = lambda problem: {k: v for k, v in problem.items() if k != "detail" or status != 404}  # noqa: E731
    assert strip(remote.json()) == strip(local.get_json())


def test_the_master_and_the_workers_stay_free_of_torch_and_one_process_holds_the_models(engine_server):
    # A metric request first: the workers have then imported the metric modules (and evaluate).
    answer = requests.post(engine_server.url + "/v1/metrics/f1", json={"predictions": [1, 0], "references": [1, 1]})
    assert answer.status_code == 200
    pids = [engine_server.process.pid, *worker_pids(engine_server.process.pid)]
    holding = [pid for pid in pids if "libtorch" in Path(f"/proc/{pid}/maps").read_text()]
    assert holding == [model_process(engine_server)]
    models = requests.get(engine_server.url + "/v1/models", timeout=10).json()["models"]
    assert {m["name"]: m["state"] for m in models} == dict.fromkeys(
        ["tiny-classifier", "tiny-lm", "tiny-qa", "tiny-ner", "tiny-embed", "tiny-sd"], "ready")
    loaded = [s for family in text_string_to_metric_families(requests.get(engine_server.url + "/metrics").text)
              for s in family.samples if s.name == "aiqa_model_loaded"]
    assert {s.labels["model"]: s.value for s in loaded}["tiny-lm"] == 1  # one copy, not one per worker


def test_workers_share_the_metric_libraries_the_master_imported_before_the_fork(engine_server):
    for _ in range(8):  # both workers have computed a metric
        answer = requests.post(engine_server.url + "/v1/metrics/f1", json={"predictions": [1, 0], "references": [1, 1]})
        assert answer.status_code == 200
    assert "/sklearn/" in Path(f"/proc/{engine_server.process.pid}/maps").read_text()  # its compiled modules
    for pid in worker_pids(engine_server.process.pid) - {model_process(engine_server)}:
        memory = memory_kb(pid)
        # Imported by each worker itself, evaluate and the metric libraries were ~200 MB of its own
        # (private) in ~270 MB resident; shared with the master, ~35 MB in ~195 MB.
        assert memory["Private_Clean"] + memory["Private_Dirty"] < memory["Rss"] / 2, memory


def batch_sizes(server) -> tuple[float, float]:
    """(batches, items) of tiny-embed, from /metrics."""
    text = requests.get(server.url + "/metrics", timeout=10).text
    found = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
             if s.name in ("aiqa_batch_size_count", "aiqa_batch_size_sum") and s.labels.get("model") == "tiny-embed"}
    return found.get("aiqa_batch_size_count", 0.0), found.get("aiqa_batch_size_sum", 0.0)


def served_by(server) -> int:
    """How many workers answered HTTP requests (each writes its own counter_PID.db)."""
    workers = worker_pids(server.process.pid) - {model_process(server)}
    return sum(1 for name in os.listdir(server.metrics_dir)
               if name.startswith("counter_") and int(name[len("counter_"):-len(".db")]) in workers)


def test_requests_of_both_workers_meet_in_one_batch(engine_server):
    def burst():
        barrier = threading.Barrier(BURST)
        answers = []

        def one(i):
            barrier.wait()
            # A fresh connection each, so both workers take some of the burst.
            answers.append(requests.post(engine_server.url + "/v1/similarity", timeout=60, headers={
                "Connection": "close"}, json={"model": "tiny-embed", "pairs": [[f"text {i}", "other"]]}).status_code)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [200] * BURST

    before = batch_sizes(engine_server)
    for bursts in range(1, 6):  # until both workers took part (the kernel picks which accepts)
        burst()
        if served_by(engine_server) >= 2:
            break
    assert served_by(engine_server) >= 2
    # Every burst ran as one full batch, whichever worker each request reached.
    after = batch_sizes(engine_server)
    assert (after[0] - before[0], after[1] - before[1]) == (bursts, bursts * 2 * BURST)


def test_image_job_progress_and_cancel_cross_the_socket(engine_server):
    url = engine_server.url
    body = {"model": "tiny-sd", "prompt": "a red square", "seed": 5, "width": 64, "height": 64, "steps": 3}
    job = requests.post(url + "/v1/images/jobs", json=body, timeout=30)
    assert job.status_code == 202
    location = job.headers["Location"]
    wait_until(lambda: requests.get(url + location, timeout=10).json()["state"] == "succeeded", 60, "job done")
    assert requests.get(url + location, timeout=10).json()["progress"] == {"step": 3, "steps": 3}
    result = requests.get(url + location + "/result", timeout=10).json()
    assert result["images"] == requests.post(url + "/v1/images", json=body, timeout=60).json()["images"]

    long = requests.post(url + "/v1/images/jobs", json={**body, "steps": 100, "width": 256, "height": 256}, timeout=30)
    location = long.headers["Location"]
    wait_until(lambda: (requests.get(url + location, timeout=10).json().get("progress") or {}).get("step", 0) >= 1,
               60, "job running")
    assert requests.delete(url + location, timeout=10).status_code in (200, 202, 204)
    wait_until(lambda: requests.get(url + location, timeout=10).json()["state"] == "cancelled", 60, "job cancelled")


def test_mixed_load_through_the_model_process_gets_only_200_and_429(engine_server):
    before = request_counts(engine_server)
    load = Load(engine_server.url, 8, 5).start().join()
    after = request_counts(engine_server)
    assert load.errors == []
    assert set(load.statuses) <= {200, 429}, load.statuses
    assert {k: after[k] - before[k] for k in load.sent} == dict(load.sent)


def test_a_killed_model_process_means_503_then_it_is_started_again(tiny_models, tmp_path):
    server = tiny_server(tmp_path, tiny_models, workers=2, AIQA_ENGINE="process").start()
    try:
        body = {"model": "tiny-classifier", "inputs": ["good"]}
        assert requests.post(server.url + "/v1/classify", json=body, timeout=30).status_code == 200
        first = model_process(server)
        os.kill(first, signal.SIGKILL)
        started = time.monotonic()
        answer = requests.post(server.url + "/v1/classify", json=body, timeout=30)
        assert time.monotonic() - started < 10  # answered, not hung
        if answer.status_code != 200:  # the new model process may already be up
            assert answer.status_code == 503 and answer.headers["Retry-After"]
            assert answer.headers["Content-Type"] == "application/problem+json"
        wait_until(lambda: requests.get(server.url + "/readyz", timeout=10).status_code == 200, 120, "ready again")
        assert model_process(server) != first
        assert requests.post(server.url + "/v1/classify", json=body, timeout=30).status_code == 200
        second = model_process(server)
    finally:
        server.stop()
    assert not Path(f"/proc/{second}").exists()  # stopping the server stopped its model process
