"""Fixtures for the client and runner tests: a real aiqa server, and small chatbots on 127.0.0.1.

The repository's tests/conftest.py is loaded by path (pytest scopes conftest files to their folder)
to reuse its LiveServer, profile writer and tiny-model builder.
"""
import importlib.util
import time
from pathlib import Path

import pytest
import requests
import yaml

from chatbots import ThreadedServer, chatbot_app, scripted_app

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("aiqa_repo_conftest", REPO / "tests" / "conftest.py")
repo_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(repo_conftest)
write_profile = repo_conftest.write_profile


class LiveServer(repo_conftest.LiveServer):
    """The repository's LiveServer, patient with a worker too busy loading models to answer in 2 s,
    and stopped again when it does not come up."""

    def start(self, wait_ready: bool = True, timeout: float = 300):
        try:
            return super().start(wait_ready, timeout)
        except BaseException:
            self.stop()
            raise

    def wait_for(self, path: str, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return super().wait_for(path, max(1.0, deadline - time.monotonic()))
            except requests.Timeout:
                if time.monotonic() > deadline:
                    raise


@pytest.fixture(scope="session")
def client_tiny_models() -> dict:
    return repo_conftest.tiny_model_builder.build(str(REPO / ".cache" / "tiny-models"))


@pytest.fixture(scope="session")
def aiqa_server(client_tiny_models, tmp_path_factory):
    """gunicorn with the offline default profile (SmolLM2, MiniLM, sentiment) plus tiny test models."""
    tmp = tmp_path_factory.mktemp("aiqa-client")
    default = yaml.safe_load((REPO / "service" / "profiles" / "default.yaml").read_text())
    tiny = [
        {"name": "tiny-classifier", "task": "text-classification", "source": f"dir:{client_tiny_models['bert-classifier']}"},
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{client_tiny_models['gpt2-lm']}"},
        {"name": "biased", "task": "text-classification",
         "source": f"dir:{client_tiny_models['bert-gender-dependent']}"},
        {"name": "fair", "task": "text-classification", "source": f"dir:{client_tiny_models['bert-gender-blind']}"},
        {"name": "tiny-qa", "task": "question-answering", "source": f"dir:{client_tiny_models['bert-qa']}"},
        {"name": "tiny-ner", "task": "token-classification", "source": f"dir:{client_tiny_models['bert-ner']}"},
    ]
    profile = write_profile(tmp / "client.yaml", default["models"] + tiny, default["defaults"])
    server = LiveServer(tmp, env={"AIQA_MODELS": profile}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def runs_server(tmp_path_factory):
    """A server with no models: recording and comparing runs needs only its store."""
    tmp = tmp_path_factory.mktemp("runs-server")
    profile = tmp / "no-models.yaml"
    profile.write_text("models: []\ndefaults: {}\n")
    server = LiveServer(tmp, env={"AIQA_MODELS": str(profile)}).start()
    yield server
    server.stop()


@pytest.fixture
def serve():
    """Start Flask apps on 127.0.0.1 ports for the test; all are shut down after it."""
    servers = []

    def start(app) -> ThreadedServer:
        servers.append(ThreadedServer(app).start())
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def weak_bot(serve):
    return serve(chatbot_app("weak"))


@pytest.fixture
def good_bot(serve):
    return serve(chatbot_app("good"))


@pytest.fixture
def scripted(serve):
    """A server that answers each request with the next of the given (status, headers, body) answers."""
    return lambda answers: serve(scripted_app(answers))
