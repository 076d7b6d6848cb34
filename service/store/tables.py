"""The store's tables (SQLAlchemy 2 declarative). Alembic's revisions in migrations/ create them;
a test checks that the head revision and these declarations agree.

A run is three tables: one row for the run (what lists, filters and the baseline lookup read, under
indexes that keep them flat as history grows), one per case (read whole, only for one run), and one
per label (so a label filter is an indexed join on every back end, not a scan of JSON).
"""
from datetime import datetime

import json

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite gives rowid aliases (autoincrement) only to INTEGER primary keys.
SERIAL = BigInteger().with_variant(Integer, "sqlite")


class JSONText(TypeDecorator):
    """JSON kept as text, taken as already-serialized text when given a str: a run's case rows are
    written by the database from the cases array's JSON text as it was posted (store.runs.insert),
    never serialized again in Python (bench/bench_records.py)."""
    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"
    seq: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    suite: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(700))
    target_type: Mapped[str] = mapped_column(String(50))
    target_url: Mapped[str] = mapped_column(String(500))
    target_model: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    cases_total: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON)

    # Newest first by suite (a list), by suite and target (a list, the baseline lookup), and overall.
    __table_args__ = (
        Index("ix_runs_suite_started", "suite", "started_at", "seq"),
        Index("ix_runs_suite_target_started", "suite", "target", "started_at", "seq"),
        Index("ix_runs_started", "started_at", "seq"),
    )


class RunCase(Base):
    __tablename__ = "run_cases"
    # No foreign key: PostgreSQL checks one per row with a trigger, a third of the cost of writing a
    # run's cases (bench/bench_records.py). Cases are written and deleted with their run, in the same
    # transaction, by store.runs only.
    # A run's cases are read whole and in order: the body holds the case as sent, nothing is copied
    # out of it (revision 0004).
    run_seq: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict] = mapped_column(JSONText)


class RunLabel(Base):
    __tablename__ = "run_labels"
    run_seq: Mapped[int] = mapped_column(SERIAL, ForeignKey("runs.seq", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))

    __table_args__ = (Index("ix_run_labels_key_value", "key", "value", "run_seq"),)


class Evaluation(Base):
    __tablename__ = "evaluations"
    seq: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    labels: Mapped[dict] = mapped_column(JSON)
    params: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON)
    intervals: Mapped[dict | None] = mapped_column(JSON)
    items: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_evaluations_name_metric_recorded", "name", "metric", "recorded_at", "seq"),
                      Index("ix_evaluations_name_recorded", "name", "recorded_at", "seq"))


class EvaluationLabel(Base):
    __tablename__ = "evaluation_labels"
    evaluation_seq: Mapped[int] = mapped_column(SERIAL, ForeignKey("evaluations.seq", ondelete="CASCADE"),
                                                primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))

    __table_args__ = (Index("ix_evaluation_labels_key_value", "key", "value", "evaluation_seq"),)
