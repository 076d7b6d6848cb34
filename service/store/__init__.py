"""The store of evaluation records: suite runs and recorded metric evaluations.

Store is created unbound and bound by init_app(app), like the model registry. It opens the database
and migrates it to head when a worker starts. A database that cannot be reached does not stop the
service: scoring goes on, /readyz names the store, every request that needs the store gets 503, and
the first such request (or /readyz) at least RETRY_S seconds after the last attempt tries to open it
again, so recording resumes without a restart once the database is back. Only one request at a time
tries; the others are answered 503 at once rather than queued behind a connect timeout.

SQL lives in this package only (runs.py, evaluations.py); the views call the Store's methods.
"""
import contextlib
import logging
import threading
import time

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import sessionmaker

from ..errors import StoreUnavailable
from . import evaluations, runs
from .database import database_url, make_engine, statement_timeout, upgrade
from .writes import ONE_STATEMENT

log = logging.getLogger(__name__)
RETRY_S = 5.0


class Store:
    def __init__(self):
        self.url = None
        self.engine = None
        self.error: str | None = "not opened"
        self.retention = {"days": 0, "per_suite": 0}
        self._sessions = None
        self._opening = threading.Lock()
        self._last_attempt = 0.0

    def init_app(self, app) -> None:
        self.url = database_url(app.config)
        self.retention = {"days": app.config["RUN_RETENTION_DAYS"], "per_suite": app.config["RUN_RETENTION_PER_SUITE"]}
        app.extensions["aiqa.store"] = self
        self.open()

    def open(self) -> bool:
        """Connect and migrate to head; False (with the reason in `error`) when the database is unreachable."""
        self._last_attempt = time.monotonic()
        try:
            engine = make_engine(self.url)
            upgrade(engine)
        except (DBAPIError, OSError) as exc:
            if "engine" in locals():
                engine.dispose()
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            log.error("store unavailable", extra={"fields": {"database": _safe(self.url), "error": self.error}})
            return False
        self.engine, self._sessions, self.error = engine, sessionmaker(engine, expire_on_commit=False), None
        log.info("store ready", extra={"fields": {"database": _safe(self.url)}})
        return True

    def _reopen(self, wait: bool = True) -> None:
        """Try to open a store that could not be opened, at most once per RETRY_S, one caller at a time;
        wait=False tries in a thread of its own and returns at once."""
        if self._sessions is not None or time.monotonic() - self._last_attempt < RETRY_S:
            return
        if self._opening.acquire(blocking=False):
            if wait:
                self._open_and_release()
            else:
                threading.Thread(target=self._open_and_release, name="aiqa-store-opener", daemon=True).start()

    def _open_and_release(self) -> None:
        try:
            if self._sessions is None:
                self.open()
        finally:
            self._opening.release()

    def readiness(self) -> str | None:
        """None when the store can be used, else why not. Never waits on a connect timeout: a
        readiness probe has a short one of its own."""
        self._reopen(wait=False)
        return self.error

    @contextlib.contextmanager
    def session(self, reopen: bool = True, write: bool = False):
        """One transaction: committed when the block ends, rolled back when it raises. write=True,
        for the inserts of store.writes: a Connection instead of a Session (they need no ORM, a tenth
        of a millisecond less), and no transaction at all where the back end makes such a write one
        statement (atomic by itself: the round trips of BEGIN and COMMIT are spared)."""
        self.check(reopen)
        try:
            if write and self.engine.dialect.name in ONE_STATEMENT:  # connects here, so inside the try
                opened = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            else:
                opened = self.engine.begin() if write else self._sessions.begin()
            with opened as session:
                yield session
        except OperationalError as exc:  # the database went away, or stayed locked past the busy timeout
            raise StoreUnavailable(f"the evaluation store did not answer: {str(exc.orig).splitlines()[0]}",
                                   headers={"Retry-After": "1"}) from None

    def check(self, reopen: bool = True) -> None:
        """Raise StoreUnavailable when the store is known to be down: before a transaction, and before
        work is done for a request that must be recorded (a database that goes away meanwhile is found
        when writing)."""
        if reopen:
            self._reopen()
        if self._sessions is None:
            raise StoreUnavailable(f"the evaluation store is unavailable: {self.error}",
                                   headers={"Retry-After": str(int(RETRY_S))})

    # -- runs ------------------------------------------------------------------------------------
    def record_run(self, run: dict, idempotency_key: str | None = None) -> tuple[dict, bool]:
        """Store a validated run; (the stored run, True) or, for a retry, (the run stored before, False).
        The run is answered without its cases: the caller has them, and GET /v1/runs/{id} gives them."""
        stored, created = self._write(lambda s: runs.insert(s, run, idempotency_key),
                                      lambda s: runs.replay(s, run, idempotency_key))
        if created and any(self.retention.values()):
            with self.session() as session:
                runs.prune(session, run["suite"], run["target_key"], **self.retention)
        return stored, created

    def _write(self, insert, replay):
        # Insert first: a new run (the common case) costs no lookup. A retry, or a concurrent twin that
        # won the insert, meets the unique id or key; then it is answered as a replay of the stored run.
        for _ in range(3):
            try:
                with self.session(write=True) as connection:
                    return insert(connection), True
            except runs.Duplicate:
                with self.session() as session:
                    found = replay(session)
                if found is not None:
                    return found, False
                # else the stored twin was deleted in between: insert again
        raise StoreUnavailable("the run could not be recorded: its id kept being taken and released; retry",
                               headers={"Retry-After": "1"})

    def get_run(self, run_id: str) -> dict:
        with self.session() as session:
            return runs.get(session, run_id)

    def list_runs(self, query: dict) -> dict:
        with self.session() as session:
            return runs.page(session, query)

    def delete_run(self, run_id: str) -> None:
        with self.session() as session:
            runs.remove(session, run_id)

    def run_history(self, per_suite: int) -> list[dict]:
        """Each suite and target with its newest `per_suite` runs (summaries, oldest first)."""
        with self.session() as session:
            return runs.history(session, per_suite)

    def run_and_baseline(self, run_id: str, baseline: str, labels: dict) -> tuple[dict, dict]:
        """The run and its baseline (a run id or `latest`), read in one transaction."""
        with self.session() as session:
            return runs.pair(session, run_id, baseline, labels)

    def prune(self, days: int = 0, per_suite: int = 0) -> int:
        with self.session() as session:
            return runs.prune_all(session, days=days, per_suite=per_suite)

    def quality(self, limit: int, timeout_s: float) -> tuple[list[dict], list[dict]]:
        """The newest run of each suite and target and the newest value of each evaluation (at most
        `limit` of each), read in one transaction that gives up after `timeout_s` (StoreUnavailable).
        It never tries to reconnect: a scrape must not wait on a connect timeout."""
        with self.session(reopen=False) as session:
            with statement_timeout(session, timeout_s):
                return runs.newest_per_suite(session, limit), evaluations.newest(session, limit)

    # -- evaluations ---------------------------------------------------------------------------
    def record_evaluation(self, evaluation: dict) -> dict:
        with self.session(write=True) as connection:
            return evaluations.insert(connection, evaluation)

    def get_evaluation(self, evaluation_id: str) -> dict:
        with self.session() as session:
            return evaluations.get(session, evaluation_id)

    def list_evaluations(self, query: dict) -> dict:
        with self.session() as session:
            return evaluations.page(session, query)

    def evaluation_history(self, per_group: int) -> list[dict]:
        """Each name and metric with its newest `per_group` evaluations, oldest first."""
        with self.session() as session:
            return evaluations.history(session, per_group)



def _safe(url: str) -> str:
    """The URL without its password, for logs and /readyz."""
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def current_store() -> Store:
    from flask import current_app
    return current_app.extensions["aiqa.store"]


__all__ = ["Store", "current_store"]
