"""Client.runs: record suite runs, list them page by page, read, delete and compare them; and
Client.evaluations: the history of metric calls made with record=.

    with Client(url) as aiqa:
        run = aiqa.runs.create(report, id="nightly-42", labels={"branch": "main"})
        for earlier in aiqa.runs.list(suite="checkout-bot", label={"branch": "main"}):
            ...

Recording is retried on 429/503 only when it is safe: with an `id` or an `idempotency_key` the
server answers a retry with the run it stored the first time, so a run is never stored twice.
"""
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .types import Answer


@dataclass
class Run(Answer):
    """A recorded run; `cases` only when read one at a time (get), None in lists and from create."""
    id: str
    suite: str
    target: dict
    counts: dict
    pass_rate: float | None = None
    pass_rate_interval: list | None = None
    labels: dict = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    recorded_at: str | None = None
    report: dict = field(default_factory=dict)
    cases: list | None = None
    created: bool | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class RunComparison(Answer):
    """A run against its baseline: flips, McNemar's exact test, paired intervals and the verdict."""
    verdict: str
    current: dict
    baseline: dict
    flips: dict
    mcnemar: dict
    alpha: float
    paired_cases: int
    errors_apart: int = 0
    needed_paired_cases: int | None = None
    numbers: dict = field(default_factory=dict)
    cases: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _moment(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _label_filter(label) -> list[str] | None:
    """{"branch": "main"} or ["branch:main"] -> ["branch:main"]."""
    if not label:
        return None
    return [f"{key}:{value}" for key, value in label.items()] if isinstance(label, dict) else list(label)


class Runs:
    def __init__(self, client):
        self.client = client

    def create(self, report: dict, *, id: str | None = None, labels: dict | None = None, started_at=None,
               finished_at=None, idempotency_key: str | None = None) -> Run:
        """Record a run: the runner's JSON report (report.json) as it is, plus an id, labels and times.

        Without an `id` an Idempotency-Key is made up, so retries of this call store the run once."""
        body = {**report, **{key: _moment(value) for key, value in (
            ("id", id), ("labels", labels), ("started_at", started_at), ("finished_at", finished_at))
            if value is not None}}
        headers = {}
        if "id" not in body:
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        response = self.client.request("POST", "/v1/runs", json=body, headers=headers)
        return Run.from_json({**response.json(), "created": response.status_code == 201})

    def get(self, run_id: str) -> Run:
        """One run with its cases."""
        return Run.from_json(self.client._get(f"/v1/runs/{run_id}"))

    def delete(self, run_id: str) -> None:
        self.client.request("DELETE", f"/v1/runs/{run_id}")

    def page(self, *, suite=None, target=None, label=None, since=None, until=None, limit=None,
             cursor=None) -> tuple[list[Run], str | None]:
        """One page of runs, newest first, and the cursor of the next (None on the last)."""
        params = {key: value for key, value in (
            ("suite", suite), ("target", target), ("label", _label_filter(label)), ("since", _moment(since)),
            ("until", _moment(until)), ("limit", limit), ("cursor", cursor)) if value is not None}
        body = self.client.request("GET", "/v1/runs", params=params).json()
        return [Run.from_json(run) for run in body["runs"]], body["next"]

    def list(self, *, suite=None, target=None, label=None, since=None, until=None, page_size=None) -> Iterator[Run]:
        """Every run that matches, newest first, fetched a page at a time as the iteration goes."""
        cursor = None
        while True:
            runs, cursor = self.page(suite=suite, target=target, label=label, since=since, until=until,
                                     limit=page_size, cursor=cursor)
            yield from runs
            if cursor is None:
                return

    def compare(self, run_id: str, baseline: str = "latest", *, label=None, alpha=None, resamples=None,
                seed=None, unchanged: bool = False) -> RunComparison:
        """The run against `baseline`: a run id, or "latest" (the newest earlier run of its suite and
        target, with every `label`). `unchanged=True` lists the cases that did not change too."""
        params = {key: value for key, value in (
            ("baseline", baseline), ("label", _label_filter(label)), ("alpha", alpha), ("resamples", resamples),
            ("seed", seed), ("unchanged", "true" if unchanged else None)) if value is not None}
        return RunComparison.from_json(self.client.request("GET", f"/v1/runs/{run_id}/compare", params=params).json())


@dataclass
class Evaluation(Answer):
    """A recorded metric evaluation: its values, parameters, intervals, size and inputs' hash."""
    id: str
    name: str
    metric: str
    kind: str
    result: dict
    params: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    recorded_at: str | None = None
    items: int | None = None
    content_hash: str | None = None
    confidence_intervals: dict | None = None
    extra: dict = field(default_factory=dict)


class Evaluations:
    def __init__(self, client):
        self.client = client

    def get(self, evaluation_id: str) -> Evaluation:
        return Evaluation.from_json(self.client._get(f"/v1/evaluations/{evaluation_id}"))

    def page(self, *, name=None, metric=None, kind=None, label=None, since=None, until=None, limit=None,
             cursor=None) -> tuple[list[Evaluation], str | None]:
        """One page, newest first, and the cursor of the next (None on the last)."""
        params = {key: value for key, value in (
            ("name", name), ("metric", metric), ("kind", kind), ("label", _label_filter(label)),
            ("since", _moment(since)), ("until", _moment(until)), ("limit", limit), ("cursor", cursor))
            if value is not None}
        body = self.client.request("GET", "/v1/evaluations", params=params).json()
        return [Evaluation.from_json(item) for item in body["evaluations"]], body["next"]

    def list(self, *, name=None, metric=None, kind=None, label=None, since=None, until=None,
             page_size=None) -> Iterator[Evaluation]:
        """Every evaluation that matches, newest first (a trend line read backwards), page by page."""
        cursor = None
        while True:
            found, cursor = self.page(name=name, metric=metric, kind=kind, label=label, since=since, until=until,
                                      limit=page_size, cursor=cursor)
            yield from found
            if cursor is None:
                return
