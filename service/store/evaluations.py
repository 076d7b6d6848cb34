"""Recorded metric evaluations in SQL: insert, history by name and metric newest first, newest values."""
import uuid

from sqlalchemy import func, select

from . import pages
from .runs import now
from .tables import Evaluation


def insert(session, evaluation: dict) -> dict:
    row = Evaluation(id=uuid.uuid4().hex, recorded_at=now(), **evaluation)
    session.add(row)
    session.flush()
    return render(row)


def page(session, query: dict) -> dict:
    statement = select(Evaluation)
    for field in ("name", "metric", "kind"):
        if query.get(field):
            statement = statement.where(getattr(Evaluation, field) == query[field])
    if query.get("since"):
        statement = statement.where(Evaluation.recorded_at >= query["since"])
    if query.get("until"):
        statement = statement.where(Evaluation.recorded_at < query["until"])
    limit = query["limit"]
    statement = pages.newest_first(statement, Evaluation.recorded_at, Evaluation.seq, query.get("cursor"), limit)
    listed, following = pages.page(list(session.scalars(statement)), limit, lambda r: r.recorded_at, render)
    return {"evaluations": listed, "next": following}


def newest(session) -> list[dict]:
    """The newest evaluation of every name and metric (for the Prometheus quality series)."""
    rank = func.row_number().over(partition_by=(Evaluation.name, Evaluation.metric),
                                  order_by=(Evaluation.recorded_at.desc(), Evaluation.seq.desc())).label("rank")
    ranked = select(Evaluation.seq, rank).subquery()
    statement = select(Evaluation).join(ranked, ranked.c.seq == Evaluation.seq).where(ranked.c.rank == 1)
    return [render(row) for row in session.scalars(statement)]


def render(row: Evaluation) -> dict:
    return {"id": row.id, "name": row.name, "metric": row.metric, "kind": row.kind, "labels": row.labels,
            "recorded_at": pages.iso(row.recorded_at), "items": row.items, "content_hash": row.content_hash,
            "params": row.params, "result": row.result, "confidence_intervals": row.intervals}
