"""Test helpers importable by name from any test (tests/ is on sys.path): a real gunicorn server,
profiles, the tiny model builder. Fixtures live in conftest.py."""
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiny_model_builder = _load_script("build_tiny_models")


def write_profile(path: Path, models: list[dict], defaults: dict | None = None) -> str:
    path.write_text(yaml.safe_dump({"models": models, "defaults": defaults or {}}))
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real gunicorn server on 127.0.0.1, started with gunicorn.conf.py like `make run`."""

    def __init__(self, tmp_path: Path, env: dict | None = None, workers: int = 1, app: str = "service:create_app()"):
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        self.metrics_dir = tmp_path / f"prom-{self.port}"
        self.metrics_dir.mkdir()
        # Each server records into a database of its own, not the shared cache directory's.
        self.env = {**os.environ, "AIQA_BIND": f"127.0.0.1:{self.port}", "AIQA_WORKERS": str(workers),
                    "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
                    "AIQA_DATABASE_URL": f"sqlite:///{tmp_path / f'aiqa-{self.port}.db'}", **(env or {})}
        self.process = None

    def start(self, wait_ready: bool = True, timeout: float = 180):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), self.app],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_for("/livez", timeout)
            if wait_ready:
                self.wait_for("/readyz", timeout)
        except BaseException:
            self.stop()  # never leave a server behind a failed start
            raise
        return self

    def wait_for(self, path: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_path.read_text()[-4000:]}")
            try:
                if requests.get(self.url + path, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{path} not 200 after {timeout}s:\n{self.log_path.read_text()[-4000:]}")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()


# -- load and process helpers (integration tests of real servers) --------------------------------
SEED = {"predictions": [0, 1, 1, 0, 1], "references": [0, 1, 0, 0, 1]}
# (method, path, body, the endpoint label the server counts it under)
MIX = [
    ("GET", "/livez", None, "/livez"),
    ("GET", "/v1/models", None, "/v1/models"),
    ("POST", "/v1/classify", {"model": "tiny-classifier", "inputs": ["good", "bad"]}, "/v1/classify"),
    ("POST", "/v1/perplexity", {"model": "tiny-lm", "inputs": ["The cat sat on the mat."]}, "/v1/perplexity"),
    ("POST", "/v1/generate", {"model": "tiny-lm", "prompt": "Hello", "max_new_tokens": 4}, "/v1/generate"),
    ("POST", "/v1/qa", {"model": "tiny-qa", "question": "Who?", "context": "Paul lives in Madrid."}, "/v1/qa"),
    ("POST", "/v1/ner", {"model": "tiny-ner", "inputs": "Paul lives in Madrid."}, "/v1/ner"),
    ("POST", "/v1/metrics/accuracy", SEED, "/v1/metrics/<name>"),
    ("GET", "/v1/metrics/f1", None, "/v1/metrics/<name>"),
]


def tiny_server(tmp: Path, tiny_models, extra_models=(), workers=2, **env) -> LiveServer:
    models = [{"name": name, "task": task, "source": f"dir:{tiny_models[key]}", "options": {"max_batch_size": 4}}
              for name, task, key in [("tiny-classifier", "text-classification", "bert-classifier"),
                                      ("tiny-lm", "causal-lm", "gpt2-lm"), ("tiny-qa", "question-answering", "bert-qa"),
                                      ("tiny-ner", "token-classification", "bert-ner")]]
    # Models load before a worker accepts connections, so a replaced worker takes no request it cannot serve.
    env = {"AIQA_MODELS": write_profile(tmp / "p.yaml", models + list(extra_models)),
           "AIQA_LOAD_IN_BACKGROUND": "false", **env}
    return LiveServer(tmp, env=env, workers=workers)


def request_counts(server) -> Counter:
    """endpoint -> requests answered, summed over codes and workers, from /metrics."""
    text = requests.get(server.url + "/metrics", timeout=10).text
    counts = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "aiqa_requests_total":
                counts[sample.labels["endpoint"]] += sample.value
    return counts


class Load:
    """`clients` threads sending the mix until `seconds` pass; each records its outcomes."""

    def __init__(self, url: str, clients: int, seconds: float, keep_alive: bool = True):
        self.url, self.clients, self.seconds, self.keep_alive = url, clients, seconds, keep_alive
        self.sent, self.statuses, self.errors = Counter(), Counter(), []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def start(self):
        self.deadline = time.monotonic() + self.seconds
        for thread in self.threads:
            thread.start()
        return self

    def join(self):
        for thread in self.threads:
            thread.join(self.seconds + 120)
        assert not any(thread.is_alive() for thread in self.threads), "a client did not stop"
        return self

    def _client(self, offset: int):
        session = requests.Session() if self.keep_alive else requests
        index = offset
        while time.monotonic() < self.deadline:
            method, path, body, label = MIX[index % len(MIX)]
            index += 1
            try:
                status = session.request(method, self.url + path, json=body, timeout=60).status_code
            except requests.RequestException as exc:
                with self.lock:
                    self.errors.append(exc)
                continue
            with self.lock:
                self.sent[label] += 1
                self.statuses[status] += 1


def profile_env(profile: str) -> dict:
    """The environment that selects `profile`: a profile file's path, or a shipped profile's name."""
    return {"AIQA_MODELS" if Path(profile).is_file() else "AIQA_PROFILE": profile}


def memory_kb(pid: int) -> dict:
    """A process's /proc/PID/smaps_rollup: Rss, Pss, Private_Clean, Private_Dirty... in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts[0].endswith(":") and len(parts) >= 2 and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1])
    return fields


def worker_pids(master_pid: int) -> set[int]:
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid and fields[0] != "Z":
            pids.add(int(stat.parent.name))
    return pids


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)
