"""Jobs: work that outlasts an HTTP request (image generation), queued and run in the background.

Several gunicorn workers share one job store, kept as files: each job is a folder under JOBS_DIR
holding job.json (state and progress) and, once it succeeded, result.json. Any worker answers any
job id by reading that folder, so no worker answers 404 for another's job. The worker that accepted
a job runs it on its own executor thread (one per worker, one job at a time) with the model it has
loaded. A cancel that reaches another worker leaves a `cancel` file, which the running worker sees
at its next step. Admission (at most JOB_QUEUE_SIZE unfinished jobs in the whole store) and state
changes hold an flock on the store, so workers agree on the count. A job whose worker exited
(crash, restart) is reported failed: its owner's pid and process start time are recorded and
checked. The workers of one server must share JOBS_DIR on one machine; give each server its own.
"""
import contextlib
import fcntl
import json
import logging
import os
import queue
import re
import secrets
import shutil
import socket
import threading
import time
from datetime import datetime, timezone

from .contract import InputError
from .errors import APIError, NotFound, Overloaded
from .observability import QUEUE_DEPTH

log = logging.getLogger(__name__)
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
UNFINISHED = frozenset({QUEUED, RUNNING})
_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16); never a path outside the store
_PROGRESS_EVERY_SECONDS = 0.1


class JobNotFound(NotFound):
    slug, title = "job-not-found", "Unknown job"


class JobNotFinished(APIError):
    """The job has no result (yet): poll the job until it succeeded."""
    status, slug, title = 409, "job-not-finished", "Job has no result"


class Cancelled(Exception):
    """Raised inside a running job when a cancel was asked for."""


def _process_started(pid: int) -> str | None:
    """The start time of a process (/proc/PID/stat field 22): tells a reused pid from its owner."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner_alive(owner: dict) -> bool:
    if owner["host"] != socket.gethostname():
        return True  # cannot see another machine's processes
    return _process_started(owner["pid"]) == owner["started"]


def _expired(record: dict) -> bool:
    return bool(record.get("expires_at")) and record["expires_at"] <= time.time()


def _orphaned(record: dict) -> bool:
    return record["state"] in UNFINISHED and not _owner_alive(record["owner"])


def public(record: dict) -> dict:
    """A job as callers see it: no owner, times in ISO 8601 (UTC)."""
    view = {key: value for key, value in record.items() if key != "owner"}
    for key in ("created_at", "started_at", "finished_at", "expires_at"):
        if view.get(key) is not None:
            view[key] = datetime.fromtimestamp(view[key], timezone.utc).isoformat(timespec="milliseconds")
    return view


class JobStore:
    def __init__(self, directory: str, capacity: int, ttl_seconds: float):
        self.directory = directory
        self.capacity = capacity
        self.ttl = ttl_seconds
        self._queue: queue.Queue = queue.Queue()
        self._executor: threading.Thread | None = None
        self._start_lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)

    # -- files -----------------------------------------------------------------------------------
    def _path(self, job_id: str, name: str = "") -> str:
        return os.path.join(self.directory, job_id, name)

    @contextlib.contextmanager
    def _locked(self):
        with open(os.path.join(self.directory, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write(self, job_id: str, name: str, data: dict) -> None:
        """Write whole or not at all: readers in other workers never see half a file."""
        target = self._path(job_id, name)
        temporary = f"{target}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(temporary, "w") as fh:
            json.dump(data, fh)
        os.replace(temporary, target)

    def _read(self, job_id: str, name: str = "job.json") -> dict:
        if not _ID.fullmatch(job_id):
            raise JobNotFound(f"no job {job_id!r}")
        try:
            with open(self._path(job_id, name)) as fh:
                return json.load(fh)
        except FileNotFoundError:
            raise JobNotFound(f"no job {job_id!r} (finished jobs are kept {self.ttl:g} s)") from None

    def _remove(self, job_id: str) -> None:
        shutil.rmtree(self._path(job_id), ignore_errors=True)

    # -- the life of a job -------------------------------------------------------------------------
    def _finish(self, record: dict, state: str, error: str | None = None) -> dict:
        now = time.time()
        record.update(state=state, finished_at=now, expires_at=now + self.ttl)
        if error:
            record["error"] = error
        self._write(record["id"], "job.json", record)
        return record

    def _settle(self, record: dict) -> dict | None:
        """Drop an expired job; fail one whose worker exited. None when the job is gone."""
        if _expired(record):
            self._remove(record["id"])
            return None
        if _orphaned(record):
            return self._finish(record, FAILED, "the worker running this job exited before it finished")
        return record

    def _sweep(self) -> int:
        """Settle every job (under the lock) and count the unfinished ones."""
        unfinished = 0
        for job_id in os.listdir(self.directory):
            if _ID.fullmatch(job_id):
                with contextlib.suppress(JobNotFound, ValueError):
                    record = self._settle(self._read(job_id))
                    unfinished += bool(record and record["state"] in UNFINISHED)
        return unfinished

    def submit(self, description: dict, work) -> dict:
        """Queue `work(progress)`, whose dict is the job's result; 429 when the store is full."""
        job_id = secrets.token_urlsafe(16)
        pid = os.getpid()
        record = {"id": job_id, "state": QUEUED, **description, "progress": None, "error": None,
                  "created_at": time.time(), "started_at": None, "finished_at": None, "expires_at": None,
                  "owner": {"host": socket.gethostname(), "pid": pid, "started": _process_started(pid)}}
        with self._locked():
            if self._sweep() >= self.capacity:
                raise Overloaded(f"{self.capacity} jobs are queued or running; retry later", retry_after=5)
            os.mkdir(self._path(job_id))
            self._write(job_id, "job.json", record)
        QUEUE_DEPTH.labels(description.get("model", "jobs")).inc()
        self._ensure_executor()
        self._queue.put((record, work))
        return public(record)

    def status(self, job_id: str) -> dict:
        record = self._read(job_id)
        if _expired(record) or _orphaned(record):
            with self._locked():
                record = self._settle(self._read(job_id))
        if record is None:
            raise JobNotFound(f"no job {job_id!r} (finished jobs are kept {self.ttl:g} s)")
        view = public(record)
        if record["state"] in UNFINISHED:
            view["cancel_requested"] = os.path.exists(self._path(job_id, "cancel"))
        return view

    def result(self, job_id: str) -> dict:
        view = self.status(job_id)
        if view["state"] != SUCCEEDED:
            raise JobNotFinished(f"job {job_id} is {view['state']}; its result exists once it succeeded",
                                 state=view["state"], headers={"Retry-After": "1"} if view["state"] in UNFINISHED else None)
        return self._read(job_id, "result.json")

    def cancel(self, job_id: str) -> dict | None:
        """Cancel an unfinished job (a running one stops at its next step); remove a finished one
        and its result. The job as it is now, or None when it was removed."""
        with self._locked():
            record = self._settle(self._read(job_id))
            if record is None:
                raise JobNotFound(f"no job {job_id!r}")
            if record["state"] == QUEUED:
                record = self._finish(record, CANCELLED)
            elif record["state"] == RUNNING:
                open(self._path(job_id, "cancel"), "w").close()
            else:
                self._remove(job_id)
                return None
        return self.status(job_id)

    # -- the executor ------------------------------------------------------------------------------
    def _ensure_executor(self) -> None:
        with self._start_lock:
            if self._executor is None or not self._executor.is_alive():
                self._executor = threading.Thread(target=self._serve, name="aiqa-jobs", daemon=True)
                self._executor.start()

    def _serve(self) -> None:
        while True:
            record, work = self._queue.get()
            QUEUE_DEPTH.labels(record.get("model", "jobs")).dec()
            try:
                self._run(record["id"], work)
            except Exception:  # the executor must outlive any one job
                log.exception("job runner failed", extra={"fields": {"job": record["id"]}})

    def _start(self, job_id: str) -> dict | None:
        """Mark a queued job running; None when it was cancelled (or removed) while it waited."""
        with self._locked(), contextlib.suppress(JobNotFound):
            record = self._read(job_id)
            if record["state"] == QUEUED:
                record.update(state=RUNNING, started_at=time.time())
                self._write(job_id, "job.json", record)
                return record
        return None

    def _run(self, job_id: str, work) -> None:
        record = self._start(job_id)
        if record is None:
            return
        try:
            result = work(Progress(self, record))
        except Cancelled:
            self._finish(record, CANCELLED)
        except (APIError, InputError) as exc:  # the problem the request would have had
            self._finish(record, FAILED, str(exc))
        except Exception as exc:
            log.exception("job failed", extra={"fields": {"job": job_id}})
            self._finish(record, FAILED, f"the work failed ({type(exc).__name__}); the server log has details")
        else:
            self._write(job_id, "result.json", result)
            self._finish(record, SUCCEEDED)


class Progress:
    """Given to a job's work: progress(step, steps) records how far it got and raises Cancelled
    once a cancel was asked for. Writes are thinned out; the first and the last always land."""

    def __init__(self, store: JobStore, record: dict):
        self.store, self.record = store, record
        self._written_at = 0.0

    def __call__(self, step: int, steps: int) -> None:
        if os.path.exists(self.store._path(self.record["id"], "cancel")):
            raise Cancelled()
        now = time.monotonic()
        if step in (1, steps) or now - self._written_at >= _PROGRESS_EVERY_SECONDS:
            self.record["progress"] = {"step": step, "steps": steps}
            self.store._write(self.record["id"], "job.json", self.record)
            self._written_at = now


def init_app(app) -> None:
    directory = app.config.get("JOBS_DIR") or os.path.join(app.config["CACHE_DIR"], "jobs")
    app.extensions["aiqa.jobs"] = JobStore(
        directory, app.config["JOB_QUEUE_SIZE"], app.config["JOB_RESULT_TTL_SECONDS"])


def current_jobs() -> JobStore:
    from flask import current_app
    return current_app.extensions["aiqa.jobs"]
