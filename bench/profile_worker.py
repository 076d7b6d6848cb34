"""Where one worker's time goes under load: py-spy samples a gunicorn worker while clients keep it busy.

One worker (default profile, inline engine), `--clients` clients sending one workload for `--seconds`
seconds while `py-spy record` samples every thread of the worker 100 times a second. Each sample
that is running (idle threads, waiting in a queue or a socket, are not sampled) is put in one
category by its innermost recognised frame: the forward pass (torch, the model's own code),
tokenisation, JSON (parse and serialise), validation (marshmallow schemas, the strict checks),
batching (the batcher's own bookkeeping), logging and Prometheus, the HTTP stack (gunicorn,
werkzeug, Flask's dispatch), other. With `--gil`, only samples of the thread that holds the
interpreter lock: what the worker's Python costs, the one resource its request threads share.

    .venv/bin/python bench/profile_worker.py [--workload similarity|perplexity|classify] [--seconds 20] [--gil]

Needs py-spy (`pip install -e '.[profile]'`) and permission to trace the worker (root, or ptrace allowed).
"""
import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from aiqa_fixtures import LiveServer, profile_env, worker_pids  # noqa: E402
from bench_serving import SENTENCES, WORKLOADS as SERVING  # noqa: E402

WORKLOADS = {**SERVING, "classify": ("/v1/classify", lambda i: {"model": "sentiment", "inputs": [SENTENCES[i % 8]]})}
# (category, substrings of a frame's "function (file:line)"), tried in order on each frame from the
# innermost out; the first frame that matches decides.
CATEGORIES = [
    ("tokenisation", ("tokenization_", "tokenizers", "/tokenizer", ".encode (service/models", "encode_batch")),
    ("forward (model)", ("torch/", "transformers/models/", "transformers/modeling", "transformers/integrations",
                         "service/models/")),
    ("JSON", ("json/", "jsontext", "simplejson", "service/api/__init__", "flask/json")),
    ("validation", ("marshmallow", "service/validation", "service/schemas")),
    ("batching", ("service/batching", "service/admission")),
    ("logging, Prometheus", ("logging/", "prometheus_client", "service/observability")),
    ("HTTP stack", ("gunicorn", "werkzeug", "flask/", "service/serving", "service/security", "socket",
                    "selectors", "http/")),
]


def category(stack: list[str]) -> str:
    for frame in reversed(stack):
        for name, marks in CATEGORIES:
            if any(mark in frame for mark in marks):
                return name
    return "other"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(url: str, workload: str, clients: int, stop: threading.Event, counts: list) -> None:
    path, body = WORKLOADS[workload]

    def client(c: int) -> None:
        session, i = requests.Session(), 0
        while not stop.is_set():
            session.post(url + path, json=body(c * 1000 + i), timeout=120).raise_for_status()
            counts[c] += 1
            i += 1

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="similarity")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--gil", action="store_true", help="only the thread holding the GIL")
    parser.add_argument("--top", type=int, default=12, help="frames to list by own samples")
    parser.add_argument("--save", type=Path, help="keep py-spy's collapsed stacks in this file (flame graph input)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        sys.exit("py-spy not found: pip install -e '.[profile]'")
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp), env={**profile_env(args.profile), "AIQA_LOAD_IN_BACKGROUND": "false"})
        server.start(timeout=300)
        try:
            (worker,) = worker_pids(server.process.pid)
            path, body = WORKLOADS[args.workload]
            for i in range(8):  # warm the path
                requests.post(server.url + path, json=body(i), timeout=120).raise_for_status()
            stop, counts = threading.Event(), [0] * args.clients
            load = threading.Thread(target=drive, args=(server.url, args.workload, args.clients, stop, counts))
            load.start()
            time.sleep(1)
            before, started, cpu = sum(counts), time.monotonic(), cpu_seconds(worker)
            raw = Path(tmp) / "profile.txt"
            subprocess.run([spy, "record", "--pid", str(worker), "--duration", str(int(args.seconds)), "--rate", "100",
                            "--format", "raw", "--output", str(raw), *(["--gil"] if args.gil else [])],
                           check=True, capture_output=True)
            answered, elapsed, cpu = sum(counts) - before, time.monotonic() - started, cpu_seconds(worker) - cpu
            stop.set()
            load.join()
        finally:
            server.stop()
        if args.save:
            shutil.copyfile(raw, args.save)
        samples, own = collections.Counter(), collections.Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
            samples[category(frames)] += int(count)
            own[frames[-1] if frames else "?"] += int(count)
    total = sum(samples.values())
    rate = answered / elapsed
    print(f"\n{args.workload}, {args.clients} clients, one worker, {elapsed:.0f} s: {rate:.0f} requests/s; "
          f"{total} samples{' holding the GIL' if args.gil else ' of running threads'} "
          f"({total / elapsed / 100:.2f} threads busy on average)")
    print(f"the worker used {cpu / elapsed:.2f} of {os.cpu_count()} cores: {cpu / answered * 1000:.2f} ms of CPU a request")
    print(f"{'category':<22} {'share':>6} {'ms of a core per request':>26}")
    for name, count in samples.most_common():
        print(f"{name:<22} {count / total:6.1%} {count / 100 / elapsed / rate * 1000:26.2f}")
    print(f"\nframes with the most samples of their own (top {args.top}):")
    for frame, count in own.most_common(args.top):
        print(f"  {count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
