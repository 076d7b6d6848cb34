"""Client.runs against a real server: the runner's report recorded as it is, pages, retries, errors."""
import json

import pytest

from aiqa_client import Client, errors
from suites import run_aiqa, write_suite
from test_runner_bots import suite_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(runs_server):
    with Client(runs_server.url, timeout=30) as client:
        yield client


def report_of(tmp_path, bot) -> dict:
    """The runner's report.json of the bot, as if both bots were two releases behind one address."""
    tmp_path.mkdir()
    run_aiqa(tmp_path, write_suite(tmp_path, suite_for(bot)))
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    report["target"]["url"] = "http://shop-bot.internal/chat"
    return report


def test_the_runners_report_is_recorded_as_it_is_and_compared(client, tmp_path, weak_bot, good_bot):
    good = client.runs.create(report_of(tmp_path / "good", good_bot), labels={"branch": "main"},
                              started_at="2026-12-01T10:00:00Z")
    weak_report = report_of(tmp_path / "weak", weak_bot)
    weak = client.runs.create(weak_report, id="weak-1", labels={"branch": "main"}, started_at="2026-12-02T10:00:00Z")
    assert good.created and weak.created and weak.id == "weak-1"
    assert weak.counts == {"cases": 6, "passed": 1, "failed": 5, "errors": 0}
    assert weak.report["canary"] == weak_report["canary"] and weak.cases is None  # GET has them
    again = client.runs.create(weak_report, id="weak-1", labels={"branch": "main"}, started_at="2026-12-02T10:00:00Z")
    assert not again.created and again.id == "weak-1"
    comparison = client.runs.compare("weak-1", "latest", label={"branch": "main"})
    assert comparison.baseline["id"] == good.id and comparison.flips["pass->fail"] == 5
    # 6 paired cases could reach p < 0.05 (all 6 flipping: 0.031), but 5 of 6 gives 0.0625
    assert comparison.verdict == "no significant change" and comparison.mcnemar["p_value"] == 0.0625
    read = client.runs.get("weak-1")
    assert read.cases == weak_report["cases"] and read.labels == {"branch": "main"}


def test_list_iterates_over_every_page_newest_first(client):
    report = {"suite": "paging", "target": {"type": "http", "url": "http://bot"},
              "cases": [{"id": "a", "type": "functional", "status": "passed", "attempts": []}]}
    for day in range(1, 6):
        client.runs.create(report, id=f"page-{day}", started_at=f"2026-11-0{day}T00:00:00Z")
    assert [run.id for run in client.runs.list(suite="paging", page_size=2)] == [f"page-{d}" for d in range(5, 0, -1)]
    runs, cursor = client.runs.page(suite="paging", limit=2)
    assert len(runs) == 2 and cursor and runs[0].cases is None


def test_a_retry_without_an_id_is_stored_once_under_its_idempotency_key(client):
    report = {"suite": "retries", "target": {"type": "http", "url": "http://bot"},
              "cases": [{"id": "a", "type": "functional", "status": "failed", "attempts": []}]}
    first = client.runs.create(report, idempotency_key="ci-7-attempt-1")
    second = client.runs.create(report, idempotency_key="ci-7-attempt-1")
    assert first.id == second.id and (first.created, second.created) == (True, False)
    assert [run.id for run in client.runs.list(suite="retries")] == [first.id]


def test_errors_are_typed(client):
    report = {"suite": "errors", "target": {"type": "http", "url": "http://bot"},
              "cases": [{"id": "a", "type": "functional", "status": "passed", "attempts": []}]}
    client.runs.create(report, id="taken")
    with pytest.raises(errors.RunConflict) as conflict:
        client.runs.create({**report, "cases": [{**report["cases"][0], "status": "failed"}]}, id="taken")
    assert conflict.value.status == 409
    with pytest.raises(errors.ValidationFailed) as invalid:
        client.runs.create({**report, "cases": [{"id": "a", "type": "functional", "status": "skipped"}]})
    assert "cases[0].status" in invalid.value.errors
    client.runs.delete("taken")
    with pytest.raises(errors.RunNotFound):
        client.runs.get("taken")
    with pytest.raises(errors.RunNotFound):
        client.runs.delete("taken")


def test_recorded_metric_calls_and_their_history(client):
    name = "client-history"
    first = client.metric("accuracy", [0, 1, 1, 0], [0, 1, 0, 0], record={"name": name, "labels": {"model": "v1"}})
    second = client.metric("accuracy", [0, 1, 0, 0], [0, 1, 0, 0], record=name)
    plain = client.metric("accuracy", [0, 1, 0, 0], [0, 1, 0, 0])
    assert plain.evaluation_id is None and second.result == plain.result and first.evaluation_id
    assert [e.id for e in client.evaluations.list(name=name, page_size=1)] == [second.evaluation_id,
                                                                              first.evaluation_id]
    assert [e.id for e in client.evaluations.list(name=name, label={"model": "v1"})] == [first.evaluation_id]
    stored = client.evaluations.get(first.evaluation_id)
    assert stored.result == {"accuracy": 0.75} and stored.items == 4 and stored.labels == {"model": "v1"}
    results = client.metrics(["precision", "recall"], [0, 1], [0, 1], record=name)
    assert all(r.evaluation_id for r in results)
    fairness = client.fairness([1, 0, 1, 0], [1, 0, 0, 0], ["a", "a", "b", "b"], record=name)
    assert client.evaluations.get(fairness.evaluation_id).kind == "fairness"
    with pytest.raises(errors.EvaluationNotFound):
        client.evaluations.get("nope")
