"""What the pages read from the store, on both back ends: each suite and target with its newest runs
(the suites page's trend), each evaluation name and metric with its newest values."""
from runs_data import run


def test_run_history_groups_by_suite_and_target_keeps_the_newest_and_orders_oldest_first(api, store_app):
    ids = {}
    for day in range(1, 6):
        body = run(["passed"] * day + ["failed", "error"], started_at=f"2026-11-{day:02d}T10:00:00Z", seed=day)
        ids[day] = api.post("/v1/runs", json=body).json["id"]
    api.post("/v1/runs", json=run(["passed"], suite="other", url="http://elsewhere/chat"))
    api.post("/v1/runs", json=run(["failed"], url="http://bot/other-target"))  # same suite, other target
    history = store_app.extensions["aiqa.store"].run_history(3)
    groups = {(group["suite"], group["target"]["key"]): group for group in history}
    assert len(groups) == 3
    main = next(group for group in history if group["suite"] == "checkout-bot" and group["target"]["url"] == "http://bot/chat")
    assert [r["id"] for r in main["runs"]] == [ids[3], ids[4], ids[5]]
    listed = {r["id"]: r for r in api.get("/v1/runs?suite=checkout-bot&limit=200").json["runs"]}
    for shown in main["runs"]:  # the API's numbers, field for field
        full = listed[shown["id"]]
        assert {key: full[key] for key in shown} == shown


def test_evaluation_history_keeps_the_newest_of_each_name_and_metric(api, store_app):
    for number in range(4):
        body = {"predictions": [1, 0, 1, number % 2], "references": [1, 0, 0, 1], "record": {"name": "nightly"}}
        assert api.post("/v1/metrics/f1", json=body).status_code == 200
    api.post("/v1/metrics/accuracy", json={"predictions": [1], "references": [1], "record": {"name": "nightly"}})
    history = store_app.extensions["aiqa.store"].evaluation_history(2)
    assert [(group["name"], group["metric"], len(group["evaluations"])) for group in history] == \
        [("nightly", "accuracy", 1), ("nightly", "f1", 2)]
    newest = api.get("/v1/evaluations?metric=f1&limit=2").json["evaluations"]
    assert history[1]["evaluations"] == list(reversed(newest))
