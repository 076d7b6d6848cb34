"""Test helpers importable by name from any test (tests/ is on sys.path): a real gunicorn server,
profiles, the tiny model builder. Fixtures live in conftest.py."""
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

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
