"""A real, throwaway PostgreSQL server for the tests, on 127.0.0.1 at a free port.

`make postgres` (a prerequisite of `make test`) installs the server binaries; this module only finds
them, makes a cluster under a directory the tests own, and starts and stops it. It never skips: a
machine without the binaries fails the tests that need them, with the command that fixes it.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

PG_ROOT = Path("/usr/lib/postgresql")
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
# The server refuses to run as root, so as root it runs as the account Debian's package creates.
SYSTEM_USER = "postgres"
USER = "aiqa"
DATABASE = "aiqa"
HOST = "127.0.0.1"
# A Unix socket path longer than this (sun_path, less the NUL) cannot be bound.
MAX_SOCKET_PATH = 107
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_binaries() -> Path:
    """The directory holding initdb, pg_ctl and postgres: the newest /usr/lib/postgresql/<v>/bin, else PATH."""
    versions = []
    if PG_ROOT.is_dir():
        for entry in PG_ROOT.iterdir():
            if all((entry / "bin" / name).is_file() for name in SERVER_BINARIES):
                # "15", "16", older "9.6": compare as numbers, so 10 is newer than 9.6.
                key = tuple(int(part) if part.isdigit() else -1 for part in entry.name.split("."))
                versions.append((key, entry / "bin"))
    if versions:
        return max(versions)[1]
    found = [shutil.which(name) for name in SERVER_BINARIES]
    if all(found):
        # PATH often holds symlinks (/usr/local/bin/initdb -> ...); use the directory they point into.
        directories = {Path(path).resolve().parent for path in found}
        if len(directories) == 1:
            return directories.pop()
        return Path(found[0]).resolve().parent
    missing = [name for name, path in zip(SERVER_BINARIES, found) if not path]
    raise RuntimeError(
        f"PostgreSQL server binaries not found (missing {', '.join(missing)} in {PG_ROOT}/*/bin and on PATH): "
        "run `make postgres` to install them")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _running(pid: int) -> bool:
    """Whether process `pid` still runs (an exited one its parent has not reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


class ExternalPostgres:
    """A PostgreSQL server someone else runs (AIQA_TEST_DATABASE_URL), with PostgresServer's interface.

    The URL names a database the tests may use; `create_database` needs the CREATEDB privilege there.
    Databases a test creates are dropped again by `stop()`.
    """

    def __init__(self, url: str):
        from sqlalchemy.engine import make_url
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise RuntimeError(f"AIQA_TEST_DATABASE_URL must be a postgresql:// URL, not {parsed.drivername!r}")
        self._parsed = parsed.set(drivername="postgresql+psycopg")
        self.database = parsed.database
        self._created: list[str] = []

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, name: str) -> str:
        return self._parsed.set(database=name).render_as_string(hide_password=False)

    def connect(self, dbname: str | None = None, timeout: float = 5) -> psycopg.Connection:
        parsed = self._parsed.set(database=dbname or self.database)
        return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
                               dbname=parsed.database, connect_timeout=max(1, int(timeout)), autocommit=True)

    def start(self) -> "ExternalPostgres":
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as error:
            raise RuntimeError(f"AIQA_TEST_DATABASE_URL is set but its server cannot be reached: {error}") from None
        return self

    def create_database(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} must match {_NAME.pattern}")
        name = f"{name}_{os.getpid()}"  # a shared server: another test session may use the same names
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return self.url_for(name)

    def stop(self):
        with self.connect() as conn:
            for name in self._created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._created.clear()


def start_test_server(base_dir: Path):
    """The suite's PostgreSQL: AIQA_TEST_DATABASE_URL when set, else a throwaway cluster in base_dir."""
    url = os.environ.get("AIQA_TEST_DATABASE_URL")
    return ExternalPostgres(url).start() if url else PostgresServer(base_dir).start()


class PostgresServer:
    """One PostgreSQL cluster in `base_dir`: trust authentication for user `aiqa`, TCP on 127.0.0.1 only.

    server = PostgresServer(tmp_path).start()
    server.url                  # postgresql+psycopg://aiqa@127.0.0.1:<port>/aiqa
    server.create_database("x") # the URL of a new, empty database
    server.stop()
    """

    def __init__(self, base_dir: Path):
        self.base_dir = Path(base_dir).resolve()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "postgres.log"
        self.host = HOST
        self.user = USER
        self.database = DATABASE
        self.port: int | None = None
        self.bin_dir: Path | None = None
        self._as_system_user = os.geteuid() == 0

    # -- addresses ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the `aiqa` database."""
        return self.url_for(self.database)

    def url_for(self, name: str) -> str:
        self._require_port()
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{name}"

    def dsn(self, dbname: str | None = None) -> str:
        """A libpq connection string, as psycopg.connect() takes it."""
        self._require_port()
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname or self.database}"

    def _require_port(self):
        if self.port is None:
            raise RuntimeError("PostgresServer has not been started")

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 30, attempts: int = 3) -> "PostgresServer":
        self.bin_dir = find_binaries()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._as_system_user:
            self._hand_to_system_user()
        if not (self.data_dir / "PG_VERSION").exists():  # a stopped server starts again on its own data
            self._run(["initdb", "-D", str(self.data_dir), "--auth=trust", f"--username={self.user}",
                       "-E", "UTF8", "--locale=C", "--no-sync"])
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_system_user:
            shutil.chown(self.socket_dir, SYSTEM_USER, SYSTEM_USER)
        atexit.register(self.stop)  # a session that dies without its teardown still stops it
        try:
            for attempt in range(attempts):
                # The port is free when picked but may be taken before the server binds it: pick again.
                self.port = free_port()
                self._write_config()
                if self._pg_ctl_start(timeout):
                    break
                if attempt == attempts - 1 or "could not bind" not in self._log_tail():
                    raise RuntimeError(f"PostgreSQL did not start:\n{self._log_tail()}")
            self._wait_for_connections(timeout)
            with self.connect("postgres") as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        except BaseException:
            self.stop()  # never leave a server behind a failed start
            raise
        return self

    def stop(self):
        """Stop the server (fast shutdown) and wait for it; does nothing where none runs."""
        atexit.unregister(self.stop)
        # postmaster.pid, not a flag: a start that timed out may still have left a server running.
        if self.bin_dir is None or not (self.data_dir / "postmaster.pid").exists():
            return
        pid = self._postmaster_pid()
        result = self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60"], check=False)
        if result.returncode != 0 and (self.data_dir / "postmaster.pid").exists():
            self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30"], check=False)
        # pg_ctl returns once postmaster.pid is gone, a moment before the postmaster itself exits.
        deadline = time.monotonic() + 10
        while pid and _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- databases ------------------------------------------------------------------------------
    def connect(self, dbname: str | None = None, timeout: float = 5) -> psycopg.Connection:
        """An autocommit psycopg connection (use it as a context manager)."""
        return psycopg.connect(self.dsn(dbname), connect_timeout=max(1, int(timeout)), autocommit=True)

    def create_database(self, name: str) -> str:
        """Make a new, empty database `name` and return its SQLAlchemy URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} must match {_NAME.pattern}")
        with self.connect("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    # -- internals ------------------------------------------------------------------------------
    def _hand_to_system_user(self):
        """As root: give base_dir to the postgres account and let it reach base_dir.

        pytest makes its temporary directories 0700 for root, so the postgres account could not
        even reach base_dir; the ancestors that block it get search permission (x, not read) for
        others. pytest takes those bits off its own directories again at the next session's start.
        """
        try:
            shutil.chown(self.base_dir, SYSTEM_USER, SYSTEM_USER)
        except LookupError:
            raise RuntimeError(f"running as root, but there is no {SYSTEM_USER!r} account to run PostgreSQL as: "
                               "run `make postgres` (the Debian package creates it)") from None
        os.chmod(self.base_dir, 0o700)
        for ancestor in self.base_dir.parents:
            mode = ancestor.stat().st_mode
            if not mode & 0o001:
                os.chmod(ancestor, (mode & 0o7777) | 0o001)

    def _write_config(self):
        socket_dirs = ""
        # Unix sockets only where the path fits; the tests connect over TCP in any case.
        if len(str(self.socket_dir / f".s.PGSQL.{self.port}.lock")) <= MAX_SOCKET_PATH:
            socket_dirs = str(self.socket_dir)
        settings = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{socket_dirs}'",
            "max_connections": "200",
            # A test cluster is thrown away: durability only costs time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        # postgresql.auto.conf is read after postgresql.conf, and a rewrite on a port retry replaces it.
        (self.data_dir / "postgresql.auto.conf").write_text(
            "".join(f"{key} = {value}\n" for key, value in settings.items()))

    def _pg_ctl_start(self, timeout: float) -> bool:
        result = self._run(["pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path),
                            "-w", "-t", str(int(timeout))], check=False)
        return result.returncode == 0

    def _wait_for_connections(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect("postgres", timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as error:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"PostgreSQL on port {self.port} refused connections for {timeout}s: "
                                       f"{error}\n{self._log_tail()}") from None
                time.sleep(0.2)

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self._as_system_user:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        # The caller's PG* settings (PGDATA, PGPORT, ...) must not steer the test cluster.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        # cwd: the postgres account may not be able to enter the caller's working directory.
        result = subprocess.run(command, cwd=self.base_dir, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""
