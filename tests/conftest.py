"""Shared fixtures: tiny models, apps on the real default profile, and a real gunicorn server."""
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiny_model_builder = _load_script("build_tiny_models")


@pytest.fixture(scope="session")
def tiny_models() -> dict:
    """name -> directory of each tiny model, built once and cached under .cache/tiny-models."""
    return tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"))


def write_profile(path: Path, models: list[dict], defaults: dict | None = None) -> str:
    path.write_text(yaml.safe_dump({"models": models, "defaults": defaults or {}}))
    return str(path)


@pytest.fixture(scope="session")
def tiny_profile(tiny_models, tmp_path_factory) -> str:
    """A profile of tiny models: a BERT-like classifier and a GPT-2-like LM."""
    return write_profile(tmp_path_factory.mktemp("profiles") / "tiny.yaml", [
        {"name": "tiny-classifier", "task": "text-classification", "source": f"dir:{tiny_models['bert-classifier']}",
         "options": {"max_batch_size": 4}},
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}",
         "options": {"max_batch_size": 4}},
    ])


@pytest.fixture(scope="session")
def tiny_app(tiny_profile):
    from service import create_app
    return create_app({"MODELS": tiny_profile, "LOAD_IN_BACKGROUND": False})


@pytest.fixture(scope="session")
def default_app():
    """The real offline default profile, loaded once per test session."""
    from service import create_app
    app = create_app({"PROFILE": "default", "LOAD_IN_BACKGROUND": False})
    ready, missing = app.extensions["aiqa.registry"].readiness()
    assert ready, missing
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real gunicorn server on 127.0.0.1, started with gunicorn.conf.py like `make run`."""

    def __init__(self, tmp_path: Path, env: dict | None = None, workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        self.metrics_dir = tmp_path / f"prom-{self.port}"
        self.metrics_dir.mkdir()
        self.env = {**os.environ, "AIQA_BIND": f"127.0.0.1:{self.port}", "AIQA_WORKERS": str(workers),
                    "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir), **(env or {})}
        self.process = None

    def start(self, wait_ready: bool = True, timeout: float = 180):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "service:create_app()"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for("/livez", timeout)
        if wait_ready:
            self.wait_for("/readyz", timeout)
        return self

    def wait_for(self, path: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_path.read_text()[-4000:]}")
            try:
                if requests.get(self.url + path, timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
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


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, tiny_profile):
    """One gunicorn server for the session: the default profile plus the tiny test models.

    Its profile is the shipped default one extended with tiny models, so integration tests reach
    real weights and pipeline-comparable tiny heads through one server.
    """
    tmp = tmp_path_factory.mktemp("live")
    from service.registry import read_profile  # noqa: F401  (fail early if the package is broken)
    default = yaml.safe_load((ROOT / "service" / "profiles" / "default.yaml").read_text())
    tiny = yaml.safe_load(Path(tiny_profile).read_text())
    profile = write_profile(tmp / "live.yaml", default["models"] + tiny["models"], default["defaults"])
    server = LiveServer(tmp, env={"AIQA_MODELS": profile}).start()
    yield server
    server.stop()
