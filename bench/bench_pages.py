"""Pages benchmark: the suites page (GET /ui/) with 1,000 runs in the store, against the JSON of the
same runs (GET /v1/runs, every page of 200 followed by its `next` cursor), side by side in one run
on one server. Target: suites page / JSON <= 3.

1,000 runs of 12 cases over 10 suites (100 runs each: every run is a point of its suite's chart).
Rounds are interleaved (page then JSON, then JSON then page, ...); each figure is the median of the
rounds' per-request times, with the spread (min-max of the rounds) beside it. One gunicorn worker
on SQLite (the default store), as `make run` serves it; --backends sqlite,postgresql adds PostgreSQL.

    .venv/bin/python bench/bench_pages.py [--rounds 9] [--requests 5] [--runs 1000]
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_records import (  # noqa: E402
    BASE, Caller, interleaved, postgres, ratio, run_body, start_server, summary, write_runs,
)

SUITES = 10


def populate(url: str, runs: int) -> None:
    write_runs(url, (run_body(f"page-{number:06d}", 12, suite=f"suite-{number % SUITES:02d}",
                              moment=BASE + datetime.timedelta(hours=number)) for number in range(runs)))


def every_run_as_json(caller: Caller) -> float:
    """GET /v1/runs page after page until `next` is null: the seconds it took."""
    connection, path, elapsed, seen = caller.connection, "/v1/runs?limit=200", 0.0, 0
    while path:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = json.loads(response.read())
        elapsed += time.perf_counter() - started
        seen += len(body["runs"])
        path = f"/v1/runs?limit=200&cursor={body['next']}" if body["next"] else None
    caller.seen = seen
    return elapsed


def measure(backend: str, url: str, tmp: Path, rounds: int, per_round: int, runs: int) -> float:
    started = time.perf_counter()
    populate(url, runs)
    print(f"  {runs} runs written in {time.perf_counter() - started:.1f} s")
    server = start_server(tmp, url)
    try:
        caller = Caller(server.port)
        every_run_as_json(caller)
        assert caller.seen == runs, caller.seen
        caller.call("GET", "/ui/")
        sides = {
            "page": lambda: statistics.fmean(caller.call("GET", "/ui/") for _ in range(per_round)),
            "json": lambda: statistics.fmean(every_run_as_json(caller) for _ in range(per_round)),
        }
        timings = interleaved(rounds, sides)
    finally:
        server.stop()
    print(f"  suites page (GET /ui/)          {summary(timings['page'])}")
    print(f"  the same runs as JSON (5 pages) {summary(timings['json'])}")
    result = ratio(timings["page"], timings["json"])
    low = min(p / j for p, j in zip(timings["page"], timings["json"]))
    high = max(p / j for p, j in zip(timings["page"], timings["json"]))
    print(f"  page / JSON                     {result:8.2f}   (rounds {low:.2f}-{high:.2f}; target <= 3)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=5, help="requests per side per round")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiqa-bench-pages-") as name:
        tmp = Path(name)
        os.chmod(tmp, 0o755)
        pg = None
        try:
            for backend in args.backends.split(","):
                if backend == "postgresql":
                    pg = pg or postgres(tmp)
                    url = pg.create_database("pages")
                else:
                    url = f"sqlite:///{tmp / 'pages.db'}"
                (tmp / backend).mkdir()
                print(f"\n== {backend}: the suites page vs the JSON of the same {args.runs} runs, "
                      f"{args.rounds} rounds x {args.requests} requests, one worker ==")
                measure(backend, url, tmp / backend, args.rounds, args.requests, args.runs)
        finally:
            if pg is not None:
                pg.stop()


if __name__ == "__main__":
    main()
