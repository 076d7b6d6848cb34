"""Memory of each process of a server: a process-mode worker next to an inline one, with and without
the master's shared imports (AIQA_SHARE_IMPORTS).

Four servers in turn (engine inline/process x shared imports on/off), each with the same profile
and workers; every worker answers a metric request and a model request first, so it has imported
what serving needs. Then the workers compute rouge and google_bleu, whose libraries (rouge-score,
nltk) are imported on first use rather than shared, and are measured again ("worker, nltk"). Per
process: RSS (every resident page it maps, shared ones included), PSS (each shared page divided
among the processes that map it: what the process costs the machine) and private memory (its own
pages, which no other process maps), from /proc/PID/smaps_rollup.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_memory.py [--profile tiny|default] [--workers 2]
"""
import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from aiqa_fixtures import (LiveServer, memory_kb, profile_env, tiny_model_builder, tiny_server,  # noqa: E402
                           worker_pids)


def memory_mb(pid: int) -> dict:
    """RSS, PSS and private memory of one process, in MB."""
    fields = {key: kb / 1024 for key, kb in memory_kb(pid).items()}
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def role(pid: int) -> str:
    return "model process" if b"service.model_process" in Path(f"/proc/{pid}/cmdline").read_bytes() else "worker"


def start(tmp: Path, args, engine: str, share: bool) -> LiveServer:
    tmp.mkdir()
    env = {"AIQA_ENGINE": engine, "AIQA_SHARE_IMPORTS": str(share).lower()}
    if args.profile == "tiny":
        models = tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"))
        return tiny_server(tmp, models, workers=args.workers, **env).start(timeout=300)
    return LiveServer(tmp, env={**profile_env(args.profile), "AIQA_LOAD_IN_BACKGROUND": "false", **env},
                      workers=args.workers).start(timeout=300)


def exercise(server: LiveServer, args) -> None:
    """Requests enough for every worker to answer each kind at least once (the kernel spreads them)."""
    model = "tiny-classifier" if args.profile == "tiny" else "sentiment"
    for _ in range(4 * args.workers):
        answer = requests.post(server.url + "/v1/metrics/f1", json={"predictions": [1, 0], "references": [1, 1]},
                               timeout=60)
        answer.raise_for_status()
        requests.post(server.url + "/v1/classify", json={"model": model, "inputs": ["fine"]}, timeout=60).raise_for_status()


def exercise_nltk(server: LiveServer, args) -> None:
    """Every worker computes the two metrics that import nltk on first use."""
    for _ in range(4 * args.workers):
        for metric in ("rouge", "google_bleu"):
            answer = requests.post(server.url + f"/v1/metrics/{metric}",
                                   json={"predictions": ["a cat sat"], "references": ["the cat sat"]}, timeout=60)
            answer.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="tiny", help="tiny (test models) or a profile name/path")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("inline", "process"):
            for share in (False, True):
                server = start(Path(tmp) / f"{engine}-{share}", args, engine, share)
                try:
                    exercise(server, args)
                    found = {"master": [memory_mb(server.process.pid)]}
                    for pid in sorted(worker_pids(server.process.pid)):
                        found.setdefault(role(pid), []).append(memory_mb(pid))
                    exercise_nltk(server, args)
                    found["worker, nltk"] = [memory_mb(pid) for pid in sorted(worker_pids(server.process.pid))
                                             if role(pid) == "worker"]
                finally:
                    server.stop()
                for name, measured in found.items():
                    rows.append((engine, "on" if share else "off", name, len(measured),
                                 *(statistics.median(m[key] for m in measured) for key in ("rss", "pss", "private"))))
    print(f"\nprofile {args.profile}, {args.workers} workers; MB per process (median over processes of a kind)")
    print(f"{'engine':<8} {'shared':<7} {'process':<14} {'n':>2} {'RSS':>7} {'PSS':>7} {'private':>8}")
    for engine, share, name, count, rss, pss, private in rows:
        print(f"{engine:<8} {share:<7} {name:<14} {count:>2} {rss:7.0f} {pss:7.0f} {private:8.0f}")
    totals = {}
    for engine, share, name, count, rss, pss, private in rows:
        if name != "worker, nltk":
            totals[engine, share] = totals.get((engine, share), 0) + count * pss
    print("\nthe whole server's PSS (what it costs the machine):")
    for (engine, share), total in totals.items():
        print(f"  {engine:<8} shared imports {share:<4} {total:7.0f} MB")


if __name__ == "__main__":
    main()
