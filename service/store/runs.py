"""Runs in SQL: insert (once), read, list by filters newest first, delete, prune, find a baseline."""
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

from aiqa_client.comparison import wilson_interval
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import Conflict, RunNotFound, ValidationFailed
from . import pages
from .pages import now
from .tables import Run, RunCase, RunLabel
from .writes import ONE_STATEMENT, SAVED, RowWithLabels


class Duplicate(Exception):
    """Another transaction stored a run with this id or idempotency key first."""


def insert(connection, run: dict, idempotency_key: str | None) -> dict:
    """Write a run with its cases and labels. The cases array's JSON text is split into one row per
    case by the database itself (json_array_elements, json_each): no statement or tuple per case in
    Python. On PostgreSQL it is one statement, atomic by itself (so `connection` may be in autocommit:
    one round trip, no BEGIN or COMMIT); on SQLite three, in `connection`'s transaction. Either way a
    run is stored whole or not at all. Duplicate when its id or idempotency key is taken."""
    counts, target = run["counts"], run["target"]
    values = dict(id=run.get("id") or uuid.uuid4().hex, idempotency_key=idempotency_key,
                  content_hash=run["content_hash"], suite=run["suite"], target=run["target_key"],
                  target_type=target["type"], target_url=target["url"], target_model=target.get("model"),
                  labels=run["labels"], started_at=run["started_at"], finished_at=run.get("finished_at"),
                  recorded_at=now(), cases_total=counts["cases"], passed=counts["passed"],
                  failed=counts["failed"], errors=counts["errors"], report=run["report"])
    try:
        if connection.dialect.name in ONE_STATEMENT:
            seq = connection.exec_driver_sql(_INSERT_POSTGRESQL,
                                             _WRITE.parameters(values, cases=run["cases_text"])).scalar_one()
        else:
            seq = _WRITE.write_sqlite(connection, values)
            connection.exec_driver_sql(_INSERT_CASES_SQLITE, (seq, run["cases_text"]))
    except IntegrityError:
        raise Duplicate() from None
    return render(SimpleNamespace(seq=seq, **values))


_WRITE = RowWithLabels(Run.__table__, RunLabel.__table__, "run_seq")
# json_array_elements keeps each element's text as sent; SQLite's json_each gives an object's text
# minified, and its index as key.
_INSERT_POSTGRESQL = _WRITE.statement(cases=(
    f"INSERT INTO run_cases (run_seq, position, body) SELECT {SAVED}.seq, c.position - 1, c.body::text "
    f"FROM {SAVED}, json_array_elements(%(cases)s::json) WITH ORDINALITY AS c(body, position)"))
_INSERT_CASES_SQLITE = "INSERT INTO run_cases (run_seq, position, body) SELECT ?, key, value FROM json_each(?)"


def replay(session, run: dict, idempotency_key: str | None) -> dict | None:
    """The run stored earlier under this id or idempotency key, when the request is a retry of it."""
    found = None
    if run.get("id"):
        found = session.scalar(select(Run).where(Run.id == run["id"]))
    if found is None and idempotency_key:
        found = session.scalar(select(Run).where(Run.idempotency_key == idempotency_key))
    if found is None:
        return None
    if found.content_hash != run["content_hash"] and not _same_content(session, found, run):
        what = f"run id {found.id!r}" if run.get("id") == found.id else f"Idempotency-Key {idempotency_key!r}"
        raise Conflict(f"{what} was already recorded with other content; use a new id for a new run",
                       errors={"id" if run.get("id") == found.id else "Idempotency-Key": ["Already used."]})
    return render(found)


def _same_content(session, row: Run, run: dict) -> bool:
    """Whether a posted run holds what `row` holds, however its JSON was spaced or its keys ordered."""
    stored = (row.suite, row.target_type, row.target_url, row.target_model, row.labels, row.finished_at, row.report)
    posted = (run["suite"], run["target"]["type"], run["target"]["url"], run["target"]["model"], run["labels"],
              run["finished_at"], run["report"])
    if stored != posted or (run["started_at_sent"] and run["started_at"] != row.started_at):
        return False
    return cases_of(session, row) == run["cases"]


def cases_of(session, row: Run) -> list[dict]:
    return list(session.scalars(select(RunCase.body).where(RunCase.run_seq == row.seq).order_by(RunCase.position)))


def _row(session, run_id: str) -> Run:
    row = session.scalar(select(Run).where(Run.id == run_id))
    if row is None:
        raise RunNotFound(f"no run with id {run_id!r}", errors={"id": [f"unknown run {run_id!r}"]})
    return row


def get(session, run_id: str) -> dict:
    row = _row(session, run_id)
    return render(row, cases_of(session, row))


def delete_row(session, row: Run) -> None:
    for table in (RunCase, RunLabel):
        session.execute(delete(table).where(table.run_seq == row.seq))
    session.execute(delete(Run).where(Run.seq == row.seq))


def remove(session, run_id: str) -> None:
    delete_row(session, _row(session, run_id))


def _filtered(query: dict):
    statement = select(Run)
    for field in ("suite", "target"):
        if query.get(field):
            statement = statement.where(getattr(Run, field) == query[field])
    return pages.narrowed(statement, query, Run.started_at, Run.seq, RunLabel.run_seq)


def page(session, query: dict) -> dict:
    limit = query["limit"]
    statement = pages.newest_first(_filtered(query), Run.started_at, Run.seq, query.get("cursor"), limit)
    listed, following = pages.page(list(session.scalars(statement)), limit, lambda r: r.started_at, render)
    return {"runs": listed, "next": following}


def pair(session, run_id: str, which: str, labels: dict) -> tuple[dict, dict]:
    """The run `run_id` and the run to compare it with: a run id, or `latest` (the newest earlier run
    of its suite and target, with `labels`)."""
    row = _row(session, run_id)
    if which != "latest":
        other = _row(session, which)
        if (other.suite, other.target) != (row.suite, row.target):
            raise ValidationFailed(
                f"baseline {which!r} is a run of suite {other.suite!r} on {other.target!r}, not of suite "
                f"{row.suite!r} on {row.target!r}: only runs of one suite and target pair up",
                errors={"baseline": ["Must be a run of the same suite and target."]})
    else:
        statement = pages.newest_first(_filtered({"suite": row.suite, "target": row.target, "labels": labels}),
                                       Run.started_at, Run.seq, pages.encode(row.started_at, row.seq), 1)
        other = session.scalars(statement).first()
        if other is None:
            wanted = "".join(f", label {key}={value}" for key, value in labels.items())
            raise RunNotFound(f"no run of suite {row.suite!r} on {row.target!r}{wanted} before {run_id!r}",
                              errors={"baseline": ["No earlier run to compare with."]})
    return render(row, cases_of(session, row)), render(other, cases_of(session, other))


def prune(session, suite: str, target: str, days: int = 0, per_suite: int = 0) -> int:
    """Delete runs past the retention: older than `days`, or beyond the newest `per_suite` of this
    suite and target. 0 turns either rule off."""
    doomed = []
    if days:
        doomed += session.scalars(select(Run).where(Run.suite == suite, Run.target == target,
                                                    Run.started_at < now() - timedelta(days=days)))
    if per_suite:
        doomed += session.scalars(select(Run).where(Run.suite == suite, Run.target == target)
                                  .order_by(Run.started_at.desc(), Run.seq.desc()).offset(per_suite))
    doomed = {row.seq: row for row in doomed}  # a run can be both too old and beyond the count
    for row in doomed.values():
        delete_row(session, row)
    return len(doomed)


def prune_all(session, days: int = 0, per_suite: int = 0) -> int:
    pairs = session.execute(select(Run.suite, Run.target).distinct()).all()
    return sum(prune(session, suite, target, days, per_suite) for suite, target in pairs)


_NEWEST_PER_SUITE = {
    # SQLite takes the bare columns of an aggregate query from the row max() chose.
    "sqlite": "SELECT suite, target, passed, failed, errors, max(started_at) FROM runs GROUP BY suite, target "
              "ORDER BY 6 DESC LIMIT ?",
    "postgresql": "SELECT * FROM (SELECT DISTINCT ON (suite, target) suite, target, passed, failed, errors, "
                  "started_at FROM runs ORDER BY suite, target, started_at DESC, seq DESC) AS newest "
                  "ORDER BY started_at DESC LIMIT %s",
}


def newest_per_suite(session, limit: int) -> list[tuple]:
    """(suite, target, passed, failed, errors, started_at) of the newest run of each suite and target,
    at most `limit` of them, the most recently run first: what the Prometheus quality series show,
    read at every scrape, so in the plainest SQL each back end has for it (an index scan)."""
    connection = session.connection()
    statement = _NEWEST_PER_SUITE[connection.dialect.name]
    cursor = connection.connection.dbapi_connection.cursor()  # plain tuples: no Row per suite
    try:
        cursor.execute(statement, (limit,))
        rows = cursor.fetchall()
    except connection.dialect.loaded_dbapi.OperationalError as exc:  # as SQLAlchemy would raise it
        raise OperationalError(statement, (limit,), exc) from exc
    finally:
        cursor.close()
    return [(suite, target, passed, failed, errors, started if isinstance(started, datetime)
             else datetime.fromisoformat(started)) for suite, target, passed, failed, errors, started in rows]


def history(session, per_suite: int) -> list[dict]:
    """Every suite and target with its newest `per_suite` runs, oldest first (what the suites page
    charts): summary columns only, one query, ranked by a window function on either back end."""
    rank = func.row_number().over(partition_by=(Run.suite, Run.target),
                                  order_by=(Run.started_at.desc(), Run.seq.desc())).label("rank")
    ranked = select(Run.id, Run.suite, Run.target, Run.target_type, Run.target_url, Run.target_model,
                    Run.started_at, Run.seq, Run.passed, Run.failed, Run.errors, Run.cases_total, rank).subquery()
    statement = (select(ranked).where(ranked.c.rank <= per_suite)
                 .order_by(ranked.c.suite, ranked.c.target, ranked.c.started_at, ranked.c.seq))
    groups: dict[tuple, dict] = {}
    for row in session.execute(statement):
        group = groups.get((row.suite, row.target))
        if group is None:
            group = groups[(row.suite, row.target)] = {
                "suite": row.suite, "target": {"type": row.target_type, "url": row.target_url,
                                               "model": row.target_model, "key": row.target}, "runs": []}
        decided = row.passed + row.failed
        group["runs"].append({
            "id": row.id, "started_at": pages.iso(row.started_at),
            "counts": {"cases": row.cases_total, "passed": row.passed, "failed": row.failed, "errors": row.errors},
            "pass_rate": row.passed / decided if decided else None,
            "pass_rate_interval": wilson_interval(row.passed, decided)})
    return list(groups.values())


def render(row: Run, cases: list | None = None) -> dict:
    decided = row.passed + row.failed
    answer = {
        "id": row.id, "suite": row.suite,
        "target": {"type": row.target_type, "url": row.target_url, "model": row.target_model, "key": row.target},
        "labels": row.labels, "started_at": pages.iso(row.started_at), "finished_at": pages.iso(row.finished_at),
        "recorded_at": pages.iso(row.recorded_at),
        "counts": {"cases": row.cases_total, "passed": row.passed, "failed": row.failed, "errors": row.errors},
        "pass_rate": row.passed / decided if decided else None,
        "pass_rate_interval": wilson_interval(row.passed, decided),
        "report": row.report,
    }
    if cases is not None:
        answer["cases"] = cases
    return answer
