"""A database that cannot be reached at start: the service starts, says why it is not ready, and
scores; only the requests that need the store are refused, with 503 and a Retry-After."""
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture
def api(tmp_path):
    from service import create_app
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profile = tmp_path / "no-models.yaml"  # nothing to load: ready at once, so readiness is the store's alone
    profile.write_text("models: []\ndefaults: {}\n")
    app = create_app({"MODELS": str(profile), "CACHE_DIR": str(tmp_path),
                      "DATABASE_URL": f"postgresql://aiqa@127.0.0.1:{port}/aiqa"})
    return app.test_client()


def test_the_service_starts_ready_and_readyz_names_the_store(api):
    ready = api.get("/readyz")
    assert ready.status_code == 200  # scoring is ready; only recording waits for the store
    store = ready.get_json()["store"]
    assert store["state"] == "unavailable" and "Connection refused" in store["error"]
    assert api.get("/livez").status_code == 200


@pytest.mark.parametrize("method, path, body", [
    ("post", "/v1/runs", {"suite": "s", "target": {"type": "http", "url": "http://bot"},
                          "cases": [{"id": "a", "type": "functional", "status": "passed", "attempts": []}]}),
    ("get", "/v1/runs", None),
    ("get", "/v1/runs/r1", None),
    ("get", "/v1/runs/r1/compare?baseline=latest", None),
    ("get", "/v1/evaluations", None),
    ("get", "/v1/evaluations/e1", None),
    ("post", "/v1/metrics/accuracy", {"predictions": [0, 1], "references": [0, 1], "record": {"name": "n"}}),
])
def test_requests_that_need_the_store_are_503_with_retry_after(api, method, path, body):
    answer = getattr(api, method)(path, json=body)
    assert answer.status_code == 503, answer.get_json()
    assert answer.get_json()["type"].endswith("store-unavailable")
    assert answer.headers["Retry-After"].isdigit()


def test_scoring_without_a_record_still_works_and_metrics_are_exported(api):
    answer = api.post("/v1/metrics/accuracy", json={"predictions": [0, 1], "references": [0, 0]})
    assert answer.status_code == 200 and answer.get_json()["result"]["accuracy"] == 0.5
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").get_data(as_text=True))}
    assert "aiqa_requests" in families
    assert [s.value for s in families["aiqa_store_up"].samples] == [0]  # and no stale quality series:
    assert not {"aiqa_suite_pass_rate", "aiqa_suite_cases", "aiqa_evaluation_value"} & set(families)


def test_recording_resumes_once_the_database_is_back_without_a_restart(postgres_server, tmp_path, monkeypatch):
    import service.store
    from service import create_app
    from runs_data import run
    monkeypatch.setattr(service.store, "RETRY_S", 0.0)
    url = postgres_server.url_for("comes_later")  # no such database yet: connections are refused
    app = create_app({"LOAD_MODELS": False, "CACHE_DIR": str(tmp_path), "DATABASE_URL": url})
    api = app.test_client()
    assert api.post("/v1/runs", json=run(["passed"], run_id="early")).status_code == 503
    assert api.get("/readyz").get_json()["store"]["state"] == "unavailable"
    postgres_server.create_database("comes_later")
    answer = api.post("/v1/runs", json=run(["passed"], run_id="late"))
    assert answer.status_code == 201, answer.get_json()
    assert [r["id"] for r in api.get("/v1/runs").get_json()["runs"]] == ["late"]
    assert api.get("/readyz").get_json()["store"] == {"state": "ready"}
    app.extensions["aiqa.store"].engine.dispose()


def _drop_connections(postgres_server, database: str) -> int:
    """What a database restart does to a pool: the server ends every session of `database` (and
    each has ended when this returns: pg_terminate_backend with a timeout waits for it)."""
    with postgres_server.connect() as admin:
        admin.autocommit = True
        ended = admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                              "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
        assert all(done for (done,) in ended)
        return len(ended)


def test_writes_and_reads_after_the_database_dropped_the_pooled_connections(postgres_server, tmp_path):
    """A pooled connection the server ended (a restart) costs no request: the pool looks at a
    connection before handing it out and replaces one the server has ended."""
    from runs_data import run
    from service import create_app
    from sqlalchemy.engine import make_url
    url = postgres_server.create_database("dropped_connections")
    name = make_url(url).database
    app = create_app({"LOAD_MODELS": False, "CACHE_DIR": str(tmp_path), "DATABASE_URL": url})
    api = app.test_client()
    evaluation = {"predictions": [0, 1], "references": [0, 1], "record": {"name": "n"}}
    assert api.post("/v1/runs", json=run(["passed"], run_id="before")).status_code == 201
    assert _drop_connections(postgres_server, name) >= 1
    answer = api.post("/v1/runs", json=run(["passed"], run_id="after"))
    assert answer.status_code == 201, answer.get_json()
    assert _drop_connections(postgres_server, name) >= 1
    assert api.post("/v1/metrics/accuracy", json=evaluation).status_code == 200
    assert _drop_connections(postgres_server, name) >= 1
    listed = api.get("/v1/runs")
    assert listed.status_code == 200 and [r["id"] for r in listed.get_json()["runs"]] == ["after", "before"]
    assert len(api.get("/v1/evaluations").get_json()["evaluations"]) == 1
    app.extensions["aiqa.store"].engine.dispose()


def _backend(postgres_server, pid: int) -> tuple[str, str]:
    with postgres_server.connect() as admin:
        return admin.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()


def test_a_pooled_connection_is_handed_out_without_a_round_trip_and_kept_when_it_only_has_news(postgres_server):
    """Checking out a live pooled connection sends the server nothing (its backend's last statement is
    still the caller's own, not a ping); one with something to read that is not the end (here a
    notification) is pinged, found alive and kept; one the server ended is replaced."""
    from service.store.database import make_engine
    engine = make_engine(postgres_server.create_database("checkout_without_ping"))

    def checkout():
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    try:
        with checkout() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            connection.exec_driver_sql("LISTEN aiqa_news")
        for number in range(3):
            with checkout() as connection:
                assert _backend(postgres_server, pid)[1] == ("LISTEN aiqa_news" if number == 0 else "SELECT 'mine'")
                connection.exec_driver_sql("SELECT 'mine'")
        import psycopg
        plain_url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain_url, autocommit=True) as other:  # a notification stays in its database
            other.execute("NOTIFY aiqa_news, 'hello'")
        time.sleep(0.2)  # the notification reaches the idle connection's socket
        with checkout() as connection:
            assert _backend(postgres_server, pid) == ("idle", "ROLLBACK")  # the ping: SELECT 1, ROLLBACK
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == pid
        assert _drop_connections(postgres_server, engine.url.database) == 1
        with checkout() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    finally:
        engine.dispose()
