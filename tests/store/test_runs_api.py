"""Runs through the HTTP layer (Flask's test client), on SQLite and on PostgreSQL."""
import datetime

import pytest

from runs_data import run

PASS12, FAIL12 = ["passed"] * 30, ["failed"] * 12 + ["passed"] * 18


def test_a_run_is_stored_once_and_read_back(api):
    body = run(["passed", "failed", "error"], run_id="run-1", labels={"branch": "main", "git_sha": "abc123"})
    first = api.post("/v1/runs", json=body)
    assert first.status_code == 201 and first.headers["Location"].endswith("/v1/runs/run-1")
    stored = first.get_json()
    assert stored["counts"] == {"cases": 3, "passed": 1, "failed": 1, "errors": 1}
    assert stored["pass_rate"] == 0.5  # an error is neither a pass nor a failure
    low, high = stored["pass_rate_interval"]
    assert 0 < low < 0.5 < high < 1
    retry = api.post("/v1/runs", json=body)
    assert retry.status_code == 200 and retry.get_json()["id"] == "run-1"
    read = api.get("/v1/runs/run-1").get_json()
    assert read["cases"] == body["cases"] and read["labels"] == body["labels"]
    assert [r["id"] for r in api.get("/v1/runs").get_json()["runs"]] == ["run-1"]


def test_an_idempotency_key_makes_a_retry_without_an_id_a_replay(api):
    body = run(["passed"] * 3)
    first = api.post("/v1/runs", json=body, headers={"Idempotency-Key": "ci-42-attempt"})
    again = api.post("/v1/runs", json=body, headers={"Idempotency-Key": "ci-42-attempt"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    other = api.post("/v1/runs", json=run(["failed"] * 3), headers={"Idempotency-Key": "ci-42-attempt"})
    assert other.status_code == 409 and other.get_json()["type"].endswith("conflict")
    assert len(api.get("/v1/runs").get_json()["runs"]) == 1


def test_an_id_reused_for_other_content_is_a_conflict_and_changes_nothing(api):
    api.post("/v1/runs", json=run(["passed"], run_id="same"))
    answer = api.post("/v1/runs", json=run(["failed"], run_id="same"))
    assert answer.status_code == 409
    assert api.get("/v1/runs/same").get_json()["counts"]["passed"] == 1


def test_lists_are_newest_first_filtered_and_paged(api):
    for day in range(1, 8):
        branch = "main" if day % 2 else "feature"
        api.post("/v1/runs", json=run(["passed"], run_id=f"r{day}", labels={"branch": branch},
                                      started_at=f"2026-11-0{day}T12:00:00+01:00"))
    api.post("/v1/runs", json=run(["passed"], suite="other", run_id="o1", started_at="2026-11-05T00:00:00Z"))
    seen, cursor = [], None
    while True:
        page = api.get("/v1/runs", query_string={"suite": "checkout-bot", "limit": 2,
                                                 **({"cursor": cursor} if cursor else {})}).get_json()
        seen += [r["id"] for r in page["runs"]]
        if not (cursor := page["next"]):
            break
    assert seen == [f"r{day}" for day in range(7, 0, -1)]
    main = api.get("/v1/runs?label=branch:main").get_json()["runs"]
    assert [r["id"] for r in main] == ["r7", "r5", "r3", "r1"]
    window = api.get("/v1/runs", query_string={"since": "2026-11-03T11:00:00Z", "until": "2026-11-05T11:00:00Z"})
    # since is inclusive and until exclusive: r3 starts exactly at since, r5 exactly at until
    assert [r["id"] for r in window.get_json()["runs"]] == ["o1", "r4", "r3"]
    assert api.get("/v1/runs?target=http%20http://bot/chat&suite=other").get_json()["runs"][0]["id"] == "o1"


def test_delete_removes_the_run_and_its_cases(api):
    api.post("/v1/runs", json=run(["passed"], run_id="gone"))
    assert api.delete("/v1/runs/gone").status_code == 204
    assert api.get("/v1/runs/gone").status_code == 404
    assert api.delete("/v1/runs/gone").status_code == 404


def test_compare_finds_a_planted_regression_and_no_change_against_itself(api):
    api.post("/v1/runs", json=run(PASS12, run_id="good", started_at="2026-11-01T00:00:00Z"))
    api.post("/v1/runs", json=run(FAIL12, run_id="bad", started_at="2026-11-02T00:00:00Z", seed=1))
    answer = api.get("/v1/runs/bad/compare?baseline=latest").get_json()
    assert answer["baseline"]["id"] == "good" and answer["verdict"] == "regressed"
    assert answer["flips"]["pass->fail"] == 12 and answer["mcnemar"]["p_value"] < 0.01
    assert [c["flip"] for c in answer["cases"]] == ["pass->fail"] * 12  # unchanged ones counted, not listed
    assert answer["flips"]["unchanged"] == 18 and answer["mcnemar"]["b"] == 12
    assert answer["current"]["pass_rate"] == 18 / 30 and len(answer["current"]["interval"]) == 2
    assert "similarity" in answer["numbers"]
    listed = api.get("/v1/runs/bad/compare?baseline=latest&unchanged=true").get_json()
    assert len(listed["cases"]) == 30
    itself = api.get("/v1/runs/bad/compare?baseline=bad").get_json()
    assert itself["verdict"] == "no significant change" and itself["mcnemar"]["p_value"] == 1.0
    assert itself["numbers"]["similarity"]["interval"] == [0.0, 0.0]


def test_latest_honours_label_filters_and_says_when_there_is_no_earlier_run(api):
    api.post("/v1/runs", json=run(PASS12, run_id="main-1", labels={"branch": "main"}, started_at="2026-11-01T00:00:00Z"))
    api.post("/v1/runs", json=run(PASS12, run_id="pr-1", labels={"branch": "pr"}, started_at="2026-11-02T00:00:00Z"))
    api.post("/v1/runs", json=run(FAIL12, run_id="pr-2", labels={"branch": "pr"}, started_at="2026-11-03T00:00:00Z"))
    assert api.get("/v1/runs/pr-2/compare?baseline=latest").get_json()["baseline"]["id"] == "pr-1"
    on_main = api.get("/v1/runs/pr-2/compare?baseline=latest&label=branch:main").get_json()
    assert on_main["baseline"]["id"] == "main-1"
    first = api.get("/v1/runs/main-1/compare?baseline=latest")
    assert first.status_code == 404 and "baseline" in first.get_json()["errors"]


def test_too_few_paired_cases_is_said_as_such(api):
    api.post("/v1/runs", json=run(["passed"] * 4, run_id="a", started_at="2026-11-01T00:00:00Z"))
    api.post("/v1/runs", json=run(["failed"] * 4, run_id="b", started_at="2026-11-02T00:00:00Z"))
    answer = api.get("/v1/runs/b/compare?baseline=a").get_json()
    assert answer["verdict"] == "too few paired cases" and answer["mcnemar"]["smallest_possible_p_value"] >= 0.05
    assert answer["needed_paired_cases"] == 6


@pytest.mark.parametrize("body, field", [
    ({"target": {"type": "http", "url": "u"}, "cases": [{"id": "a", "type": "t", "status": "passed"}]}, "suite"),
    (run(["passed"]) | {"cases": [{"id": "a", "type": "t", "status": "skipped"}]}, "cases[0].status"),
    (run(["passed"]) | {"cases": [{"id": "a", "type": "t", "status": "passed", "attempts": [{"passed": 1}]}]},
     "cases[0].attempts[0].passed"),
    (run(["error"]) | {"cases": [{"id": "a", "type": "t", "status": "error",
                                  "attempts": [{"passed": True, "status": "error"}]}]}, "cases[0].attempts[0].status"),
    (run(["failed"]) | {"cases": [{"id": "a", "type": "t", "status": "failed",
                                   "attempts": [{"passed": False, "status": "skipped"}]}]}, "cases[0].attempts[0].status"),
    (run(["passed", "passed"]) | {"cases": [{"id": "a", "type": "t", "status": "passed"}] * 2}, "cases[1].id"),
    (run(["passed"]) | {"labels": {"build": 7}}, "labels.build"),
    (run(["passed"]) | {"started_at": "2026-11-01T00:00:00"}, "started_at"),
    (run(["passed"]) | {"id": "has space"}, "id"),
    (run(["passed"]) | {"sweet": True}, "sweet"),
    (run(["passed"]) | {"counts": {"cases": 1.0, "passed": 1, "failed": 0, "errors": 0}}, "counts.cases"),
    (run(["passed"]) | {"counts": {"cases": 1, "passed": 0, "failed": 1, "errors": 0}}, "counts.passed"),
    (run(["passed"]) | {"seconds": "fast"}, "seconds"),
    (run(["passed"]) | {"pass_rate_gate": "median"}, "pass_rate_gate"),
    (run(["passed"]) | {"max_errors": True}, "max_errors"),
    (run(["passed"]) | {"max_errors": -1}, "max_errors"),
    (run(["passed"]) | {"warnings": ["ok", 3]}, "warnings"),
    (run(["passed"]) | {"passed": 1}, "passed"),
    (run(["passed"]) | {"cases": []}, "cases"),
    (run(["passed"]) | {"finished_at": "2026-11-01T00:00:00Z", "started_at": "2026-11-02T00:00:00Z"}, "finished_at"),
    (run(["passed"]) | {"target": {"type": "http"}}, "target.url"),
    (run(["passed"]) | {"suite": "nightly\u0000"}, "suite"),
    (run(["passed"]) | {"target": {"type": "http", "url": "http://bot/\ud800"}}, "target.url"),
    (run(["passed"]) | {"labels": {"branch": "main\udc00"}}, "labels.branch"),
])
def test_a_malformed_run_is_a_422_naming_the_field_and_stores_nothing(api, body, field):
    answer = api.post("/v1/runs", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]
    assert api.get("/v1/runs").get_json()["runs"] == []


def test_oversized_runs_are_413(api):
    assert api.post("/v1/runs", json=run(["passed"] * 501)).status_code == 413
    huge = run(["passed"]) | {"canary": "x" * 600_000}
    assert api.post("/v1/runs", json=huge).status_code == 413


def test_a_baseline_of_another_suite_is_422_naming_both_suites(api):
    api.post("/v1/runs", json=run(["passed"], run_id="mine"))
    api.post("/v1/runs", json=run(["passed"], run_id="theirs", suite="other"))
    answer = api.get("/v1/runs/mine/compare?baseline=theirs")
    assert answer.status_code == 422 and "baseline" in answer.get_json()["errors"]
    assert "'other'" in answer.get_json()["detail"] and "'checkout-bot'" in answer.get_json()["detail"]
    assert api.get("/v1/runs/mine/compare?baseline=nobody").status_code == 404


@pytest.mark.parametrize("query", ["alpha=0", "alpha=0.7", "alpha=nan", "alpha=x", "resamples=10", "seed=-1",
                                   "unchanged=1", "unchanged=yes", "", "baseline="])
def test_bad_compare_queries_are_422(api, query):
    api.post("/v1/runs", json=run(["passed"], run_id="mine"))
    query = query if query.startswith("baseline") or not query else f"baseline=mine&{query}"
    answer = api.get(f"/v1/runs/mine/compare?{query}")
    assert answer.status_code == 422, answer.get_json()


@pytest.mark.parametrize("query", ["limit=0", "limit=2.5", "since=yesterday", "since=2026-11-01T00:00:00",
                                   "cursor=bm9wZQ", "label=branch", "colour=red"])
def test_bad_list_queries_are_422(api, query):
    assert api.get(f"/v1/runs?{query}").status_code == 422


def test_retention_keeps_the_newest_runs_per_suite(store_app):
    store_app.extensions["aiqa.store"].retention = {"days": 0, "per_suite": 2}
    api = store_app.test_client()
    for day in range(1, 5):
        api.post("/v1/runs", json=run(["passed"], run_id=f"k{day}", started_at=f"2026-11-0{day}T00:00:00Z"))
    api.post("/v1/runs", json=run(["passed"], suite="other", run_id="x1", started_at="2026-11-01T00:00:00Z"))
    assert [r["id"] for r in api.get("/v1/runs").get_json()["runs"]] == ["k4", "k3", "x1"]


def test_retention_by_age_drops_runs_that_started_longer_ago(store_app):
    store_app.extensions["aiqa.store"].retention = {"days": 30, "per_suite": 0}
    api = store_app.test_client()
    now = datetime.datetime.now(datetime.timezone.utc)
    for run_id, age in (("old", 45), ("recent", 10)):
        moment = (now - datetime.timedelta(days=age)).isoformat()
        assert api.post("/v1/runs", json=run(["passed"], run_id=run_id, started_at=moment)).status_code == 201
    assert [r["id"] for r in api.get("/v1/runs").get_json()["runs"]] == ["recent"]


def test_a_retry_with_other_spacing_and_key_order_is_a_replay_not_a_conflict(api):
    import json
    body = run(["passed", "failed"], run_id="spaced", labels={"b": "2", "a": "1"}, started_at="2026-11-01T01:00:00+01:00")
    compact = json.dumps(body, separators=(",", ":"))
    first = api.post("/v1/runs", data=compact, content_type="application/json")
    reordered = json.dumps({key: body[key] for key in reversed(list(body))}, indent=3, sort_keys=True)
    again = api.post("/v1/runs", data=reordered, content_type="application/json")
    assert (first.status_code, again.status_code) == (201, 200)
    same_moment = body | {"started_at": "2026-11-01T00:00:00Z"}  # the same instant, written in UTC
    assert api.post("/v1/runs", json=same_moment).status_code == 200
    changed = body | {"cases": [body["cases"][0], body["cases"][1] | {"status": "passed"}]}
    assert api.post("/v1/runs", json=changed).status_code == 409
    assert api.get("/v1/runs/spaced").get_json()["cases"] == body["cases"]


def test_case_bodies_come_back_as_they_were_sent_whatever_they_hold(api):
    """The database splits the cases array into rows itself; what it keeps is each case, exactly."""
    import json
    odd = ["nul \u0000 inside", "line\u2028separator", "emoji \U0001F600", "quote \" and \\",
           "<script>alert(1)</script>", "é ß 中文"]
    body = run(["passed"] * len(odd), run_id="odd")
    for case, text in zip(body["cases"], odd):
        case["attempts"][0]["reply"] = text
        case["big"], case["tiny"], case["nested"] = 2**63 - 1, 1e-300, {"a": [[], {}, None, True]}
    answer = api.post("/v1/runs", data=json.dumps(body, ensure_ascii=False).encode(), content_type="application/json")
    assert answer.status_code == 201, answer.get_json()
    assert api.get("/v1/runs/odd").get_json()["cases"] == body["cases"]
    assert api.post("/v1/runs", json=body).status_code == 200  # the same content, escaped: a replay
    body["cases"][2]["attempts"][0]["reply"] = "half a pair \ud800"  # valid JSON, not text
    refused = api.post("/v1/runs", json=body | {"id": "half"})
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["cases[2].attempts[0].reply"]