"""Engines and migrations: SQLite under CACHE_DIR by default, PostgreSQL through DATABASE_URL.

SQLite runs in WAL mode with a busy timeout, so the workers of one server read while one writes
and a writer waits its turn instead of failing; `synchronous=NORMAL` in WAL mode loses nothing a
killed process committed (only a power cut can take the last commits). PostgreSQL is what several
servers (Kubernetes replicas) share.

Migrations run when a worker starts. One process at a time migrates: PostgreSQL through an advisory
lock, SQLite through a lock file beside the database; the others wait, then find it at head.
A database already at head is recognised by reading its alembic_version table, without alembic:
alembic (~10 MB of a worker's memory, bench/bench_memory.py) is imported only by a process that migrates.
"""
import contextlib
import fcntl
import os
import select
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (tests/store/test_migrations.py holds them equal): a new
# revision changes it too.
HEAD_REVISION = "0004_lean_case_rows"
# Any constant: the key of the advisory lock every aiqa process takes to migrate.
ADVISORY_LOCK = 0x61697161
BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 5


def database_url(config) -> str:
    """DATABASE_URL when set (postgresql://... is read with psycopg 3), else CACHE_DIR/aiqa.db."""
    url = config.get("DATABASE_URL") or f"sqlite:///{os.path.join(config['CACHE_DIR'], 'aiqa.db')}"
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_size=4, max_overflow=12, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
        event.listen(engine, "checkout", _unless_ended)
        return engine
    raise ValueError(f"AIQA_DATABASE_URL: unsupported database {parsed.get_backend_name()!r}; "
                     "use sqlite:///path or postgresql://user@host/db")


def _unless_ended(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout on PostgreSQL: hand out a pooled connection only if the server has not ended it
    (a restart, pg_terminate_backend, an idle timeout), else the pool replaces it with a new one.

    An idle connection has nothing to read; one the server ended has the server's goodbye and the end
    of the stream waiting on its socket. A poll of the socket, without waiting, tells the two apart at
    the cost of a system call, where pool_pre_ping sends a SELECT 1 on every checkout: a round trip per
    request, more than the statement of a write on a database on another host, and a tenth of a
    millisecond of every recorded run on this one (bench/bench_records.py). Something readable that
    is not the end (a notice, a changed server parameter) is settled by such a ping."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        if not poller.poll(0):
            return
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:  # the connection is closed, or its ping failed: a new one is made
        raise DisconnectionError(f"the server ended this connection: {exc}") from exc


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config():
    from alembic.config import Config
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The head as alembic reads it from migrations/versions."""
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _stamped(connection)


def _stamped(connection) -> str | None:
    """The revision alembic stamped in the database (None for an empty one), read without alembic."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None  # several heads: not this code's single line


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision`, one process at a time; nothing to do (and no alembic
    import) when `revision` is head and the database is there already."""
    if revision == "head" and current_revision(engine) == HEAD_REVISION:
        return
    with _migration_lock(engine) as connection:
        if revision == "head":
            at_head = _stamped(connection) == HEAD_REVISION  # another process migrated it meanwhile
            connection.commit()  # alembic begins its own transaction
            if at_head:
                return
        from alembic import command
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@contextlib.contextmanager
def _migration_lock(engine: Engine):
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK})
                connection.commit()
        return
    database = engine.url.database
    lock_path = f"{database}.migrate-lock" if database and database != ":memory:" else None
    with contextlib.ExitStack() as stack:
        if lock_path:
            lock = stack.enter_context(open(lock_path, "a"))
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield stack.enter_context(engine.connect())


@contextlib.contextmanager
def statement_timeout(session, seconds: float):
    """Abort the statements of this block that run, or wait for a lock, longer than `seconds`
    (OperationalError): PostgreSQL's statement_timeout for this transaction; on SQLite a shorter busy
    timeout and a progress handler, both restored afterwards."""
    milliseconds = max(1, int(seconds * 1000))
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        yield
        return
    import time
    raw = session.connection().connection.driver_connection
    deadline = time.monotonic() + seconds
    raw.execute(f"PRAGMA busy_timeout={milliseconds}")
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 100)  # non-zero interrupts
    try:
        yield
    finally:
        raw.set_progress_handler(None, 100)
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
