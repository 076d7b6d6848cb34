"""Runs through a real gunicorn with two workers, on SQLite and on PostgreSQL: concurrent clients and
their retries store every run once; a worker killed mid-stream loses no run it acknowledged."""
import datetime
import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from aiqa_fixtures import LiveServer, wait_until, worker_pids

pytestmark = pytest.mark.slow
CLIENTS, RUNS_PER_CLIENT = 8, 25
BASE = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    """Two workers, no models (runs need only the store), on a fresh database of each back end."""
    profile = tmp_path / "no-models.yaml"
    profile.write_text("models: []\ndefaults: {}\n")
    env = {"AIQA_MODELS": str(profile)}
    if request.param == "postgresql":
        env["AIQA_DATABASE_URL"] = request.getfixturevalue("postgres_server").create_database(
            f"runs_http_{next(_databases)}")
    server = LiveServer(tmp_path, env=env, workers=2).start()
    yield server
    server.stop()


def run_body(run_id: str, moment: datetime.datetime, cases: int) -> dict:
    """A run whose case i fails when i % 4 == 1 and errs when i % 4 == 2: its counts are known."""
    statuses = ["passed", "failed", "error", "passed"]
    return {"id": run_id, "suite": "concurrency", "target": {"type": "http", "url": "http://bot/chat"},
            "started_at": moment.isoformat(), "labels": {"client": run_id.split("-")[0]},
            "cases": [{"id": f"case-{i}", "type": "functional", "status": statuses[i % 4],
                       "attempts": [] if statuses[i % 4] == "error" else [
                           {"passed": statuses[i % 4] == "passed", "reason": "checked", "prompt": f"q{i}",
                            "reply": f"a{i} of {run_id}", "similarity": round(i / cases, 4)}]}
                      for i in range(cases)]}


def expected_counts(cases: int) -> dict:
    outcomes = [("passed", "failed", "error", "passed")[i % 4] for i in range(cases)]
    return {"cases": cases, "passed": outcomes.count("passed"), "failed": outcomes.count("failed"),
            "errors": outcomes.count("error")}


def every_run(url: str, **query) -> list[dict]:
    runs, cursor = [], None
    while True:
        page = requests.get(url + "/v1/runs", params={**query, "limit": 64, **({"cursor": cursor} if cursor else {})},
                            timeout=30).json()
        runs += page["runs"]
        if not (cursor := page["next"]):
            return runs


def test_concurrent_clients_and_their_retries_store_every_run_once(server):
    def client(number: int) -> list[int]:
        statuses = []
        with requests.Session() as session, ThreadPoolExecutor(2) as pair:
            for i in range(RUNS_PER_CLIENT):
                sequence = number * RUNS_PER_CLIENT + i
                body = run_body(f"c{number}-r{i}", BASE + datetime.timedelta(seconds=sequence), 3 + sequence % 7)
                if i % 3 == 0:  # a retry racing its original: both at once, on two connections
                    answers = list(pair.map(lambda _: requests.post(server.url + "/v1/runs", json=body, timeout=60),
                                            range(2)))
                    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
                    assert answers[0].json()["id"] == answers[1].json()["id"] == body["id"]
                    statuses += [a.status_code for a in answers]
                else:
                    statuses.append(session.post(server.url + "/v1/runs", json=body, timeout=60).status_code)
        return statuses

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = [s for answers in pool.map(client, range(CLIENTS)) for s in answers]
    retried = CLIENTS * len(range(0, RUNS_PER_CLIENT, 3))
    assert statuses.count(201) == CLIENTS * RUNS_PER_CLIENT and statuses.count(200) == retried
    runs = every_run(server.url, suite="concurrency")
    assert len(runs) == CLIENTS * RUNS_PER_CLIENT  # every run once
    ordered = sorted(range(CLIENTS * RUNS_PER_CLIENT), reverse=True)  # newest first
    assert [r["id"] for r in runs] == [f"c{s // RUNS_PER_CLIENT}-r{s % RUNS_PER_CLIENT}" for s in ordered]
    assert all(r["counts"] == expected_counts(3 + s % 7) for r, s in zip(runs, ordered))
    assert len(every_run(server.url, label="client:c3")) == RUNS_PER_CLIENT


def test_a_killed_worker_loses_no_acknowledged_run(server):
    master = server.process.pid
    workers = worker_pids(master)
    assert len(workers) == 2
    acknowledged, stop, lock = {}, threading.Event(), threading.Lock()

    def post_runs(number: int):
        for i in itertools.count():
            if stop.is_set():
                return
            body = run_body(f"k{number}-r{i}", BASE + datetime.timedelta(minutes=number, seconds=i), 40)
            try:  # a fresh connection each time, so both workers take runs
                answer = requests.post(server.url + "/v1/runs", json=body, timeout=60,
                                       headers={"Connection": "close"})
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                continue  # in flight on the killed worker: it may or may not be stored, but whole if it is
            assert answer.status_code == 201, answer.text
            with lock:
                acknowledged[body["id"]] = body

    threads = [threading.Thread(target=post_runs, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(worker_pids(master) - {victim}) == 2, 120, "no replacement worker")
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(60)
    assert len(acknowledged) > 10
    stored = {r["id"]: r for r in every_run(server.url, suite="concurrency")}
    assert set(acknowledged) <= set(stored)
    for run_id, sent in acknowledged.items():
        read = requests.get(f"{server.url}/v1/runs/{run_id}", timeout=30).json()
        assert read["cases"] == sent["cases"] and read["counts"] == expected_counts(40)
    for run_id in set(stored) - set(acknowledged):  # cut off before its answer: stored whole or not at all
        assert len(requests.get(f"{server.url}/v1/runs/{run_id}", timeout=30).json()["cases"]) == 40


def test_with_the_database_down_the_server_starts_scores_and_answers_runs_503(tmp_path):
    profile = tmp_path / "no-models.yaml"
    profile.write_text("models: []\ndefaults: {}\n")
    from aiqa_fixtures import free_port
    down = f"postgresql://aiqa@127.0.0.1:{free_port()}/aiqa"  # nothing listens there
    server = LiveServer(tmp_path, env={"AIQA_MODELS": str(profile), "AIQA_DATABASE_URL": down}).start()
    try:
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["store"]["state"] == "unavailable"
        refused = requests.post(server.url + "/v1/runs", json=run_body("r1", BASE, 3), timeout=30)
        assert refused.status_code == 503 and refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:aiqa:problem:store-unavailable" and int(refused.headers["Retry-After"]) > 0
        scored = requests.post(server.url + "/v1/metrics/accuracy", timeout=30,
                               json={"predictions": [0, 1, 1, 0, 1], "references": [0, 1, 0, 0, 1]})
        assert scored.status_code == 200 and scored.json()["result"]["accuracy"] == 0.8
        metrics = quality(requests.get(server.url + "/metrics", timeout=30).text)
        assert metrics == {("aiqa_store_up", ()): 0.0}  # up 0, and no stale quality series
    finally:
        server.stop()


def scrape_pids(server) -> set:
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    return {line["pid"] for line in lines if line.get("path") == "/metrics"}


def quality(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name.startswith(("aiqa_suite", "aiqa_evaluation", "aiqa_store"))}


def test_every_worker_scrapes_the_same_quality_values_as_the_store_holds(server):
    body = run_body("q1", BASE, 8)
    assert requests.post(server.url + "/v1/runs", json=body, timeout=30).status_code == 201
    recorded = requests.post(server.url + "/v1/metrics/f1", timeout=30, json={
        "predictions": [0, 1, 1, 0, 1], "references": [0, 1, 0, 0, 1], "record": {"name": "nightly"}}).json()
    texts = []

    def scraped_by_both_workers():  # fresh connections; the access log names the worker of each
        texts.append(requests.get(server.url + "/metrics", timeout=30, headers={"Connection": "close"}).text)
        return len(scrape_pids(server)) == 2

    wait_until(scraped_by_both_workers, 60, "every scrape went to the same worker")
    scrapes = [quality(text) for text in texts]
    assert all(scrape == scrapes[0] for scrape in scrapes)
    counts = expected_counts(8)
    target = (("suite", "concurrency"), ("target", "http http://bot/chat"))
    assert scrapes[0][("aiqa_suite_pass_rate", target)] == counts["passed"] / (counts["passed"] + counts["failed"])
    assert scrapes[0][("aiqa_suite_cases", (("outcome", "error"),) + target)] == counts["errors"]
    assert scrapes[0][("aiqa_evaluation_value", (("key", "f1"), ("metric", "f1"), ("name", "nightly")))] == \
        recorded["result"]["f1"]
    assert scrapes[0][("aiqa_store_up", ())] == 1
    promtool = shutil.which("promtool")
    if promtool:  # Debian's prometheus package; `make test` installs it where apt-get can
        checked = subprocess.run([promtool, "check", "metrics"], input=texts[-1], capture_output=True, text=True,
                                 timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
