"""Migrations: an empty database upgrades to head; one at the previous revision keeps its rows."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from service.store.database import HEAD_REVISION, current_revision, head_revision, make_engine, upgrade
from service.store.tables import Base


def test_an_empty_database_upgrades_to_head_and_matches_the_tables(database_url):
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision() == HEAD_REVISION == "0004_lean_case_rows"
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    upgrade(engine)  # at head already: nothing to do
    assert current_revision(engine) == head_revision()
    engine.dispose()


def insert_run_row(connection, run_id: str, passed: int, failed: int) -> None:
    """A run row as every revision so far has it (written in SQL: the tables may be older than tables.py)."""
    connection.execute(text(
        "INSERT INTO runs (id, content_hash, suite, target, target_type, target_url, labels, started_at,"
        " recorded_at, cases_total, passed, failed, errors, report) VALUES (:id, 'h', 's', 'http u', 'http', 'u',"
        " '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', :total, :passed, :failed, 0, '{}')"),
        {"id": run_id, "total": passed + failed, "passed": passed, "failed": failed})


def test_a_database_at_the_previous_revision_upgrades_with_its_rows(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0001_runs")
    assert "evaluations" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        insert_run_row(connection, "old-run", passed=1, failed=0)
        connection.execute(text("INSERT INTO run_cases (run_seq, position, case_id, type, status, body)"
                                " SELECT seq, 0, 'c', 'functional', 'passed', '{\"id\": \"c\"}' FROM runs"))
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, passed FROM runs")).all() == [("old-run", 1)]
        assert connection.execute(text("SELECT body FROM run_cases")).all() == [('{"id": "c"}',)]
        assert connection.execute(text("SELECT count(*) FROM evaluations")).scalar() == 0
    engine.dispose()


def test_case_rows_lose_their_copied_columns_and_get_them_back_on_the_way_down(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0003_evaluation_labels")
    with engine.begin() as connection:
        insert_run_row(connection, "r", passed=1, failed=1)
        connection.execute(text(
            "INSERT INTO run_cases (run_seq, position, case_id, type, status, body) SELECT seq, 0, 'a', 'functional',"
            " 'passed', '{\"id\": \"a\", \"type\": \"functional\", \"status\": \"passed\"}' FROM runs"
            " UNION ALL SELECT seq, 1, 'b', 'bias', 'failed', '{\"id\": \"b\", \"type\": \"bias\", \"status\":"
            " \"failed\"}' FROM runs"))
    upgrade(engine)
    assert {column["name"] for column in inspect(engine).get_columns("run_cases")} == {"run_seq", "position", "body"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM run_cases")).scalar() == 2
    from alembic import command

    from service.store.database import alembic_config
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0003_evaluation_labels")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT position, case_id, type, status FROM run_cases ORDER BY position"))
        assert rows.all() == [(0, "a", "functional", "passed"), (1, "b", "bias", "failed")]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_manual_command_upgrades_a_database(tmp_path, monkeypatch, capsys):
    from service.store.__main__ import main
    monkeypatch.setenv("AIQA_DATABASE_URL", f"sqlite:///{tmp_path / 'by-hand.db'}")
    assert main(["upgrade", "0001_runs"]) == 0
    assert "database at 0001_runs" in capsys.readouterr().out
    assert main(["upgrade"]) == 0
    assert f"database at {head_revision()}" in capsys.readouterr().out


def test_processes_starting_together_migrate_once_and_all_find_head(database_url):
    """Four processes upgrade one empty database at once: one migrates under the lock, the others
    wait and find it at head; none fails on a table another created."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "AIQA_DATABASE_URL": database_url}
    processes = [subprocess.Popen([sys.executable, "-m", "service.store", "upgrade"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    assert all(f"database at {head_revision()}" in output for output in outputs)
    engine = make_engine(database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_evaluations_recorded_before_the_label_rows_keep_their_labels(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0002_evaluations")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO evaluations (id, name, metric, kind, labels, params, result, items, content_hash,"
            " recorded_at) VALUES ('e1', 'nightly', 'f1', 'metric', '{\"model\": \"v2\", \"data\": \"dev\"}', '{}',"
            " '{\"f1\": 0.5}', 4, 'h', '2026-01-01 00:00:00')"))
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT key, value FROM evaluation_labels ORDER BY key")).all()
    assert rows == [("data", "dev"), ("model", "v2")]
    engine.dispose()


def test_a_process_that_finds_the_database_at_head_imports_no_alembic(database_url):
    """A worker opening a database another process migrated reads its revision from alembic_version; only
    a process that migrates imports alembic (about 10 MB of every worker otherwise). A database one
    revision behind is still migrated, alembic imported for it."""
    import os
    import subprocess
    import sys
    engine = make_engine(database_url)
    upgrade(engine, "0003_evaluation_labels")
    opening = ("import sys; from service.store import Store; store = Store(); store.url = sys.argv[1]; "
               "assert store.open(), store.error; print('alembic' in sys.modules)")

    def opens() -> str:
        result = subprocess.run([sys.executable, "-c", opening, database_url], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()
    assert opens() == "True"  # behind head: it migrates
    assert current_revision(engine) == HEAD_REVISION
    assert opens() == "False"  # at head: a read of alembic_version
    engine.dispose()
