"""The file-backed job store behind /v1/images/jobs, driven by plain work functions.

Two JobStore instances on one folder stand for two gunicorn workers: each answers for the other's
jobs. Work functions block on events, so every state is reached on purpose, never by timing.
"""
import json
import threading
import time

import pytest

from service.errors import Overloaded
from service.jobs import Cancelled, JobNotFinished, JobNotFound, JobStore


def wait_until(check, what: str):
    """Poll until check() is truthy (a deadline guard, not a timing assertion)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"gave up waiting for {what}")


def state_of(store, job_id, *states):
    return wait_until(lambda: store.status(job_id)["state"] in states and store.status(job_id), f"{job_id} {states}")


class Gate:
    """Work that reports step 1, then waits until it is let through, then reports step 2 of 2."""

    def __init__(self):
        self.started, self.proceed = threading.Event(), threading.Event()
        self.finished = False

    def __call__(self, progress):
        progress(1, 2)
        self.started.set()
        assert self.proceed.wait(60)
        progress(2, 2)
        self.finished = True
        return {"answer": 42}


@pytest.fixture
def stores(tmp_path):
    """Two workers' stores on one shared folder."""
    return JobStore(str(tmp_path), capacity=2, ttl_seconds=60), JobStore(str(tmp_path), capacity=2, ttl_seconds=60)


def test_ids_are_unguessable_and_unknown_ids_are_404(stores):
    store, _ = stores
    ids = {store.submit({"model": "m"}, lambda progress: {})["id"] for _ in range(2)}
    assert len(ids) == 2 and all(len(job_id) == 22 for job_id in ids)
    for unknown in ("A" * 22, "../../etc/passwd", ""):
        with pytest.raises(JobNotFound):
            store.status(unknown)


def test_another_worker_answers_status_and_result(stores):
    accepting, other = stores
    gate = Gate()
    job_id = accepting.submit({"model": "m"}, gate)["id"]
    gate.started.wait(60)
    running = other.status(job_id)
    assert running["state"] == "running" and running["progress"] == {"step": 1, "steps": 2}
    with pytest.raises(JobNotFinished):
        other.result(job_id)
    gate.proceed.set()
    done = state_of(other, job_id, "succeeded")
    assert done["progress"] == {"step": 2, "steps": 2} and other.result(job_id) == {"answer": 42}


def test_a_cancel_sent_to_another_worker_stops_the_running_job(stores):
    accepting, other = stores
    gate = Gate()
    job_id = accepting.submit({"model": "m"}, gate)["id"]
    gate.started.wait(60)
    asked = other.cancel(job_id)
    assert asked["state"] == "running" and asked["cancel_requested"] is True
    gate.proceed.set()
    assert state_of(accepting, job_id, "cancelled", "succeeded")["state"] == "cancelled"
    assert not gate.finished


def test_a_queued_job_is_cancelled_at_once_and_never_runs(stores):
    store, _ = stores
    gate, ran = Gate(), []
    first = store.submit({"model": "m"}, gate)["id"]
    gate.started.wait(60)
    queued = store.submit({"model": "m"}, lambda progress: ran.append(1) or {})["id"]
    assert store.status(queued)["state"] == "queued"
    assert store.cancel(queued)["state"] == "cancelled"
    gate.proceed.set()
    state_of(store, first, "succeeded")
    third = store.submit({"model": "m"}, lambda progress: {})["id"]  # runs after the cancelled one was skipped
    state_of(store, third, "succeeded")
    assert ran == [] and store.status(queued)["state"] == "cancelled"


def test_a_full_store_answers_429_in_every_worker(stores):
    first, second = stores
    gates = [Gate(), Gate()]
    ids = [first.submit({"model": "m"}, gates[0])["id"], second.submit({"model": "m"}, gates[1])["id"]]
    for store in stores:
        with pytest.raises(Overloaded) as full:
            store.submit({"model": "m"}, lambda progress: {})
        assert full.value.status == 429 and full.value.headers["Retry-After"]
    for gate in gates:
        gate.proceed.set()
    for job_id in ids:
        state_of(first, job_id, "succeeded")
    assert first.submit({"model": "m"}, lambda progress: {})["state"] == "queued"


def test_failed_work_is_reported_without_internals(stores):
    store, _ = stores

    def broken(progress):
        raise ValueError("secret internals")

    failed = state_of(store, store.submit({"model": "m"}, broken)["id"], "failed")
    assert "ValueError" in failed["error"] and "secret" not in failed["error"]


def test_finished_jobs_expire_after_the_ttl(tmp_path):
    store = JobStore(str(tmp_path), capacity=2, ttl_seconds=0)
    job_id = store.submit({"model": "m"}, lambda progress: {})["id"]
    wait_until(lambda: (tmp_path / job_id / "result.json").exists() and
               json.loads((tmp_path / job_id / "job.json").read_text())["state"] == "succeeded", "the job")
    with pytest.raises(JobNotFound):
        store.status(job_id)
    assert not (tmp_path / job_id).exists()


def test_deleting_a_finished_job_removes_it(stores):
    store, other = stores
    job_id = store.submit({"model": "m"}, lambda progress: {})["id"]
    state_of(store, job_id, "succeeded")
    assert other.cancel(job_id) is None
    with pytest.raises(JobNotFound):
        store.status(job_id)


def test_a_job_whose_worker_exited_is_failed_and_frees_its_place(tmp_path):
    store = JobStore(str(tmp_path), capacity=1, ttl_seconds=60)
    gate = Gate()
    job_id = store.submit({"model": "m"}, gate)["id"]
    gate.started.wait(60)
    record = json.loads((tmp_path / job_id / "job.json").read_text())
    record["owner"]["started"] = "another process"  # its pid now belongs to someone else
    (tmp_path / job_id / "job.json").write_text(json.dumps(record))
    assert "exited" in store.status(job_id)["error"]
    assert store.submit({"model": "m"}, lambda progress: {})["state"] == "queued"
    gate.proceed.set()


def test_progress_raises_cancelled_only_after_a_cancel(stores):
    store, _ = stores
    gate, outcome = Gate(), []

    def work(progress):
        try:
            return gate(progress)
        except Cancelled:
            outcome.append("stopped")
            raise

    job_id = store.submit({"model": "m"}, work)["id"]
    gate.started.wait(60)
    store.cancel(job_id)
    gate.proceed.set()
    state_of(store, job_id, "cancelled")
    assert outcome == ["stopped"]
