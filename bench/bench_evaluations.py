"""Recorded evaluations and quality series: their cost, side by side in one run (SQLite store).

1. POST /v1/metrics/f1 on 1,000 items with `record` against the same request without it, on one
   gunicorn worker. Target: recorded / unrecorded <= 1.2.
2. A scrape of /metrics with 1,000 suites in the store against a scrape with one suite (two servers
   side by side; each suite has one run). Target: 1,000 / 1 <= 3.

Rounds are interleaved (A then B, then B then A, ...); each figure is the median of the rounds'
mean per-request time, with the spread (min-max of the rounds) beside it.

    .venv/bin/python bench/bench_evaluations.py [--rounds 9] [--requests 20] [--suites 1000]
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_records import (BASE, Caller, interleaved, ratio, run_body, start_server, summary,  # noqa: E402
                           write_runs)


def f1_bodies(items: int) -> tuple[bytes, bytes]:
    rng = random.Random(0)
    references = [rng.randint(0, 1) for _ in range(items)]
    predictions = [r if rng.random() < 0.8 else 1 - r for r in references]
    plain = {"predictions": predictions, "references": references}
    recorded = {**plain, "record": {"name": "bench-f1", "labels": {"model": "v1"}}}
    return json.dumps(plain).encode(), json.dumps(recorded).encode()


def recording(tmp: Path, rounds: int, per_round: int, items: int) -> float:
    server = start_server(tmp / "f1", f"sqlite:///{tmp / 'f1.db'}")
    try:
        caller = Caller(server.port)
        plain, recorded = f1_bodies(items)

        def side(body: bytes):
            return lambda: statistics.fmean(caller.call("POST", "/v1/metrics/f1", body) for _ in range(per_round))

        side(plain)(), side(recorded)()
        timings = interleaved(rounds, {"plain": side(plain), "recorded": side(recorded)})
    finally:
        server.stop()
    print(f"  f1, {items} items            {summary(timings['plain'])}")
    print(f"  f1, {items} items, record    {summary(timings['recorded'])}")
    result = ratio(timings["recorded"], timings["plain"])
    print(f"  recorded / unrecorded     {result:8.2f}   (target <= 1.2)")
    return result


def populate(url: str, suites: int) -> None:
    """One run of 5 cases for each of `suites` suites."""
    write_runs(url, (run_body(f"suite-run-{number:05d}", 5, suite=f"suite-{number:05d}", moment=BASE)
                     for number in range(suites)))


def scraping(tmp: Path, rounds: int, per_round: int, suites: int) -> float:
    servers = {}
    try:
        for size in (1, suites):
            url = f"sqlite:///{tmp / f'scrape-{size}.db'}"
            populate(url, size)
            servers[size] = start_server(tmp / f"scrape-{size}", url)
        callers = {size: Caller(server.port) for size, server in servers.items()}

        def side(size: int):
            return lambda: statistics.fmean(callers[size].call("GET", "/metrics") for _ in range(per_round))

        for size in servers:
            side(size)()
        timings = interleaved(rounds, {size: side(size) for size in servers})
    finally:
        for server in servers.values():
            server.stop()
    print(f"  scrape, {1:>5} suite        {summary(timings[1])}")
    print(f"  scrape, {suites:>5} suites       {summary(timings[suites])}")
    result = ratio(timings[suites], timings[1])
    print(f"  {suites} / 1                {result:8.2f}   (target <= 3)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=20, help="requests per side per round")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--suites", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiqa-bench-evaluations-") as name:
        tmp = Path(name)
        for sub in ("f1", "scrape-1", f"scrape-{args.suites}"):
            (tmp / sub).mkdir()
        print(f"\n== recording a metric, {args.rounds} rounds x {args.requests} requests, one worker ==")
        recorded = recording(tmp, args.rounds, args.requests, args.items)
        print(f"\n== scraping /metrics, {args.suites} suites vs 1 ==")
        scraped = scraping(tmp, args.rounds, args.requests, args.suites)
    print("\n== summary ==")
    for label, value, limit in (("record / plain f1", recorded, 1.2), (f"scrape {args.suites} / 1", scraped, 3.0)):
        print(f"  {label:<24} {value:6.2f}  {'ok' if value <= limit else 'MISSED'} (target <= {limit})")


if __name__ == "__main__":
    main()
