"""Records benchmark: what keeping runs costs, side by side in one run, on SQLite and on PostgreSQL.

1. Recording a 200-case run (POST /v1/runs) against posting the same JSON to an endpoint of the same
   server that parses it and discards it (POST /bench/discard). Target: record / discard <= 2.
2. Listing the newest 50 runs of a suite and reading one run, with 10,000 runs in the store, against
   the same with 10 runs (two servers side by side). Target: 10,000 / 10 <= 1.5 (indexes, not scans).
3. Comparing two 200-case runs (GET /v1/runs/{id}/compare?baseline=latest) in those two stores.
   Target: 10,000 / 10 <= 1.5.

Within each round the two sides take turns request by request (A B, then B A, ...), so drift and
bursts of load on the machine fall on both; a round gives each side the median of its requests'
times. Times and ratios (computed per round) are printed as the median of the rounds with their
min-max. PostgreSQL is AIQA_TEST_DATABASE_URL when set, else a throwaway cluster the script starts
itself (as the tests do).

    .venv/bin/python bench/bench_records.py [--rounds 15] [--requests 20] [--backends sqlite,postgresql]
"""
import argparse
import datetime
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SUITES = 20


def discard_app():
    """The service plus POST /bench/discard: parse the body as /v1/runs does, store nothing."""
    from flask import Blueprint, jsonify

    from service import create_app
    from service.api import read_json
    app = create_app()
    bp = Blueprint("bench", __name__)

    @bp.post("/bench/discard")
    def discard():
        body = read_json()
        return jsonify(id=body.get("id"), cases=len(body.get("cases", []))), 201

    app.register_blueprint(bp)
    return app


def run_body(run_id: str, cases: int, suite: str = "bench", moment: datetime.datetime | None = None) -> dict:
    """A run shaped like the runner's report: cases with an attempt each (prompt, reply, a number)."""
    statuses = ["passed", "passed", "failed", "error"]
    return {
        "id": run_id, "suite": suite, "target": {"type": "http", "url": "http://bot.internal/chat"},
        "labels": {"branch": "main", "git_sha": run_id[-7:].rjust(7, "0")},
        "started_at": (moment or datetime.datetime.now(datetime.timezone.utc)).isoformat(),
        "pass_rate": 0.66, "seconds": 12.5,
        "cases": [{"id": f"case-{i:04d}", "type": "functional", "status": statuses[i % 4], "message": "",
                   "attempts": [{"passed": statuses[i % 4] == "passed", "reason": "contains the expected words",
                                 "prompt": f"What is the refund policy for order {i}?",
                                 "reply": f"Orders like {i} can be refunded within 30 days of delivery.",
                                 "similarity": round((i % 97) / 97, 4)}]}
                  for i in range(cases)],
    }


class Caller:
    """Keep-alive HTTP calls to one server, timed."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: bytes | None = None, expect: int = 200) -> float:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return elapsed


def interleaved(rounds: int, per_round: int, sides: dict) -> dict:
    """{name: [the median per-request seconds of each round]}. Within a round the sides take turns
    request by request (A B, then B A, ...), so a burst of load on the machine falls on both; a
    round's median is not moved by one slow request."""
    timings = {name: [] for name in sides}
    names = list(sides)
    for _ in range(rounds):
        times = {name: [] for name in sides}
        for number in range(per_round):
            for name in (names if number % 2 == 0 else names[::-1]):
                times[name].append(sides[name]())
        for name in sides:
            timings[name].append(statistics.median(times[name]))
    return timings


def summary(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.2f} ms  ({min(values) * 1000:.2f}-{max(values) * 1000:.2f})"


def ratio(a: list[float], b: list[float]) -> tuple[float, str]:
    """The median of the per-round ratios a/b, and their spread as printed."""
    ratios = [x / y for x, y in zip(a, b)]
    return statistics.median(ratios), f"({min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} rounds)"


def start_server(tmp: Path, database_url: str, app: str = "service:create_app()"):
    from aiqa_fixtures import LiveServer
    profile = tmp / "no-models.yaml"
    profile.write_text("models: []\ndefaults: {}\n")
    env = {"AIQA_MODELS": str(profile), "AIQA_DATABASE_URL": database_url, "AIQA_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")])}
    server = LiveServer(tmp, env=env, app=app).start()
    # A worker imports the metric modules in a background thread after start; measuring while it
    # runs would time that import. The catalog needs every module, so it returns once they are in.
    Caller(server.port).call("GET", "/v1/metrics")
    return server


def recording(backend: str, url: str, tmp: Path, rounds: int, per_round: int) -> float:
    server = start_server(tmp, url, app="bench_records:discard_app()")
    try:
        caller = Caller(server.port)
        counter = iter(range(10**9))
        bodies = {}

        def body_for(kind: str) -> bytes:
            # The same JSON both sides, but a new id each time: a record is a new run, not a replay.
            number = next(counter)
            if kind not in bodies:
                bodies[kind] = json.dumps(run_body("run-0000000", 200))
            return bodies[kind].replace("run-0000000", f"run-{number:07d}", 1).encode()

        def side(path: str, status: int):
            return lambda: caller.call("POST", path, body_for(path), status)

        for path, status in (("/bench/discard", 201), ("/v1/runs", 201)):  # warm both paths
            for _ in range(per_round):
                side(path, status)()
        timings = interleaved(rounds, per_round, {"discard": side("/bench/discard", 201),
                                                  "record": side("/v1/runs", 201)})
    finally:
        server.stop()
    print(f"  parse and discard   {summary(timings['discard'])}")
    print(f"  record (201)        {summary(timings['record'])}")
    result, spread = ratio(timings["record"], timings["discard"])
    print(f"  record / discard    {result:8.2f}   {spread}   (target <= 2)")
    return result


def write_runs(url: str, bodies) -> None:
    """Migrate the database at `url` and write the runs `bodies` through the store's own reading and
    insert, committing every 500."""
    from service import runs as run_reading
    from service.config import DEFAULTS
    from service.store import runs as run_rows
    from service.store.database import make_engine, upgrade
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as connection:
        for number, body in enumerate(bodies):
            run_rows.insert(connection, run_reading.read_run(body, DEFAULTS), None)
            if number % 500 == 499:
                connection.commit()
        connection.commit()
    engine.dispose()


def populate(url: str, runs: int) -> None:
    """`runs` runs of 5 cases over SUITES suites (or all in suite-07 when there are fewer runs than
    suites), and the two 200-case runs that are compared."""
    def bodies():
        for number in range(runs):
            suite = f"suite-{number % SUITES:02d}" if runs >= SUITES else "suite-07"
            yield run_body(f"pop-{number:07d}", 5, suite=suite, moment=BASE + datetime.timedelta(minutes=number))
        # Two 200-case runs of one more suite, the second with a case in 8 failing: the pair compared.
        for number, moment in enumerate((BASE - datetime.timedelta(days=2), BASE - datetime.timedelta(days=1))):
            body = run_body(f"cmp-{number}", 200, suite="compare", moment=moment)
            if number:
                for case in body["cases"][::8]:
                    case["status"], case["attempts"][0]["passed"] = "failed", False
            yield body

    write_runs(url, bodies())


def listing(backend: str, urls: dict, tmp: Path, rounds: int, per_round: int) -> float:
    servers = {}
    try:
        for size, url in urls.items():
            started = time.perf_counter()
            populate(url, size)
            print(f"  {size:>6} runs written in {time.perf_counter() - started:5.1f} s")
            (tmp / f"{backend}-list-{size}").mkdir()
            servers[size] = start_server(tmp / f"{backend}-list-{size}", url)
        callers = {size: Caller(server.port) for size, server in servers.items()}
        # The middle of the history of suite-07 in each store.
        middle = {size: f"pop-{(size // 2) // SUITES * SUITES + 7:07d}" if size >= SUITES else f"pop-{size // 2:07d}"
                  for size in urls}

        def side(size: int):
            caller = callers[size]
            return lambda: (caller.call("GET", "/v1/runs?suite=suite-07&limit=50")
                            + caller.call("GET", f"/v1/runs/{middle[size]}"))

        def comparing(size: int):
            return lambda: callers[size].call("GET", "/v1/runs/cmp-1/compare?baseline=latest")

        for size in urls:
            for _ in range(5):
                side(size)()
                comparing(size)()
        timings = interleaved(rounds, per_round, {size: side(size) for size in urls})
        compare_timings = interleaved(rounds, max(1, per_round // 5), {size: comparing(size) for size in urls})
    finally:
        for server in servers.values():
            server.stop()
    small, large = sorted(urls)
    print(f"  list 50 + get one, {small:>6} runs   {summary(timings[small])}   (the page holds all {small})")
    print(f"  list 50 + get one, {large:>6} runs   {summary(timings[large])}   (the page holds 50 of "
          f"{large // SUITES})")
    result, spread = ratio(timings[large], timings[small])
    print(f"  {large} / {small}             {result:8.2f}   {spread}   (target <= 1.5)")
    print(f"  compare two 200-case runs, {small:>6} runs   {summary(compare_timings[small])}")
    print(f"  compare two 200-case runs, {large:>6} runs   {summary(compare_timings[large])}")
    compared, spread = ratio(compare_timings[large], compare_timings[small])
    print(f"  {large} / {small}             {compared:8.2f}   {spread}   (target <= 1.5)")
    return result, compared


def postgres(tmp: Path):
    import pg_server
    return pg_server.start_test_server(tmp / "postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=20, help="requests per side per round")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the large store")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="aiqa-bench-records-") as name:
        tmp = Path(name)
        os.chmod(tmp, 0o755)
        pg = None
        try:
            for backend in args.backends.split(","):
                if backend == "postgresql":
                    pg = pg or postgres(tmp)
                    url_for = lambda label: pg.create_database(label)  # noqa: E731
                else:
                    url_for = lambda label: f"sqlite:///{tmp / (label + '.db')}"  # noqa: E731
                (tmp / f"{backend}-record").mkdir()
                print(f"\n== {backend}: record a 200-case run vs parse and discard it, "
                      f"{args.rounds} rounds x {args.requests} requests, one worker ==")
                results[f"{backend} record/discard"] = recording(
                    backend, url_for(f"bench_record_{backend}"), tmp / f"{backend}-record", args.rounds, args.requests)
                print(f"\n== {backend}: newest 50 of a suite + one run, {args.runs} runs vs 10 ==")
                results[f"{backend} list {args.runs}/10"], results[f"{backend} compare {args.runs}/10"] = listing(
                    backend, {10: url_for(f"bench_small_{backend}"), args.runs: url_for(f"bench_large_{backend}")},
                    tmp, args.rounds, args.requests)
        finally:
            if pg is not None:
                pg.stop()
    print("\n== summary ==")
    for label, value in results.items():
        limit = 2.0 if "record" in label else 1.5
        print(f"  {label:<28} {value:6.2f}  {'ok' if value <= limit else 'MISSED'} (target <= {limit})")


if __name__ == "__main__":
    main()
