"""Recorded metric evaluations in SQL: insert, history by name and metric newest first, newest values."""
import uuid
from types import SimpleNamespace

from sqlalchemy import func, select

from ..errors import EvaluationNotFound
from . import pages
from .pages import now
from .writes import ONE_STATEMENT, RowWithLabels
from .tables import Evaluation, EvaluationLabel


def insert(connection, evaluation: dict) -> dict:
    """Write an evaluation and its label rows: one statement on PostgreSQL (so `connection` may be in
    autocommit), the row and its labels (split from their JSON by json_each) on SQLite."""
    values = {"id": uuid.uuid4().hex, "recorded_at": now(), **evaluation}
    if connection.dialect.name in ONE_STATEMENT:
        seq = connection.exec_driver_sql(_INSERT_POSTGRESQL, _WRITE.parameters(values)).scalar_one()
    else:
        seq = _WRITE.write_sqlite(connection, values)
    return render(SimpleNamespace(seq=seq, **values))


_WRITE = RowWithLabels(Evaluation.__table__, EvaluationLabel.__table__, "evaluation_seq")
_INSERT_POSTGRESQL = _WRITE.statement()


def get(session, evaluation_id: str) -> dict:
    row = session.scalar(select(Evaluation).where(Evaluation.id == evaluation_id))
    if row is None:
        raise EvaluationNotFound(f"no recorded evaluation with id {evaluation_id!r}",
                                 errors={"id": [f"unknown evaluation {evaluation_id!r}"]})
    return render(row)


def page(session, query: dict) -> dict:
    statement = select(Evaluation)
    for field in ("name", "metric", "kind"):
        if query.get(field):
            statement = statement.where(getattr(Evaluation, field) == query[field])
    statement = pages.narrowed(statement, query, Evaluation.recorded_at, Evaluation.seq, EvaluationLabel.evaluation_seq)
    limit = query["limit"]
    statement = pages.newest_first(statement, Evaluation.recorded_at, Evaluation.seq, query.get("cursor"), limit)
    listed, following = pages.page(list(session.scalars(statement)), limit, lambda r: r.recorded_at, render)
    return {"evaluations": listed, "next": following}


def newest(session, limit: int) -> list[dict]:
    """The newest evaluation of each name and metric, at most `limit` (the most recent first)."""
    rank = func.row_number().over(partition_by=(Evaluation.name, Evaluation.metric),
                                  order_by=(Evaluation.recorded_at.desc(), Evaluation.seq.desc())).label("rank")
    ranked = select(Evaluation.name, Evaluation.metric, Evaluation.result, Evaluation.recorded_at, rank).subquery()
    statement = select(ranked).where(ranked.c.rank == 1).order_by(ranked.c.recorded_at.desc()).limit(limit)
    return [{"name": row.name, "metric": row.metric, "result": row.result} for row in session.execute(statement)]


def history(session, per_group: int) -> list[dict]:
    """Every name and metric with its newest `per_group` evaluations, oldest first (what the
    evaluations page charts), in one query."""
    rank = func.row_number().over(partition_by=(Evaluation.name, Evaluation.metric),
                                  order_by=(Evaluation.recorded_at.desc(), Evaluation.seq.desc())).label("rank")
    ranked = select(Evaluation, rank).subquery()
    statement = (select(ranked).where(ranked.c.rank <= per_group)
                 .order_by(ranked.c.name, ranked.c.metric, ranked.c.recorded_at, ranked.c.seq))
    groups: dict[tuple, dict] = {}
    for row in session.execute(statement):
        group = groups.setdefault((row.name, row.metric), {"name": row.name, "metric": row.metric, "evaluations": []})
        group["evaluations"].append(render(row))
    return list(groups.values())


def render(row: Evaluation) -> dict:
    return {"id": row.id, "name": row.name, "metric": row.metric, "kind": row.kind, "labels": row.labels,
            "recorded_at": pages.iso(row.recorded_at), "items": row.items, "content_hash": row.content_hash,
            "params": row.params, "result": row.result, "confidence_intervals": row.intervals}
