"""The model process's protocol in one test process: an ModelProcessServer over a registry of tiny
models, answered through ModelProcessClient / RemoteRegistry on a real Unix socket."""
import pickle
import secrets
import threading
from multiprocessing.connection import Listener

import pytest

from service.model_process.client import ModelProcessClient, RemoteRegistry
from service.model_process.server import ModelProcessServer
from service.errors import ModelNotFound, ModelUnavailable, Overloaded, Timeout, ValidationFailed, WrongTask
from service.jobs import Cancelled
from service.contract import InputError, OverBudget


@pytest.fixture(scope="module")
def engine(tiny_app, tmp_path_factory):
    """(registry inside the model process, RemoteRegistry of a worker)."""
    address = str(tmp_path_factory.mktemp("engine") / "engine.sock")
    key = secrets.token_bytes(16)
    inline = tiny_app.extensions["aiqa.registry"]
    server = ModelProcessServer(inline, address, key)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = RemoteRegistry(ModelProcessClient(address, key, timeout_s=30))
    yield inline, remote
    server.listener.close()


@pytest.mark.parametrize("exc", [
    InputError(2, "context", "too long"), InputError(None, "inputs", "inputs[0] has 1 token"),
    InputError(None, "inputs", "2 do not fit", each={0: "long", 3: "longer"}),
    InputError(None, "num_images", "too many", hint="Fewer.", too_large=True),
    OverBudget("inputs", "over", hint="Less.", estimate_s=74.2, limit_s=60.0, units=6100, unit="token"),
    ValidationFailed("bad", errors={"inputs": {0: ["Too long."]}}), Overloaded("full", retry_after=7),
    Timeout("late"), ModelUnavailable("loading", headers={"Retry-After": "5"}), Cancelled(),
])
def test_every_error_a_model_call_raises_survives_the_socket(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc) and vars(back) == vars(exc)


def test_remote_answers_equal_the_models_own(engine):
    inline, remote = engine
    for name, call, args in [
        ("tiny-classifier", "classify", (["good", "bad", "a much longer text than the others"],)),
        ("tiny-lm", "perplexity", (["The cat sat on the mat.", "Hello there"], None, None)),
        ("tiny-qa", "answer", ([("Who?", "Paul lives in Madrid.")],)),
        ("tiny-ner", "entities", (["Paul lives in Madrid."],)),
    ]:
        assert getattr(remote.get(name, _capability(call)), call)(*args) == \
            getattr(inline.get(name, _capability(call)), call)(*args), call
    text = remote.get("tiny-lm", "generate").generate(prompt="Hi", messages=None, max_new_tokens=4,
                                                      temperature=0.0, top_p=1.0, seed=3)
    assert text == inline.get("tiny-lm", "generate").generate(prompt="Hi", messages=None, max_new_tokens=4,
                                                               temperature=0.0, top_p=1.0, seed=3)


def _capability(call: str) -> str:
    return {"classify": "classify", "perplexity": "perplexity", "answer": "qa", "entities": "ner"}[call]


def test_the_registry_view_matches_the_model_process(engine):
    inline, remote = engine
    assert remote.readiness() == (True, {})
    assert remote.describe() == inline.describe()
    assert remote.defaults == inline.defaults
    model = remote.get("tiny-classifier", "classify")
    assert model.labels == inline.get("tiny-classifier", "classify").labels
    assert remote.get("tiny-lm", "perplexity").max_length == inline.get("tiny-lm", "perplexity").max_length
    with pytest.raises(ModelNotFound):
        remote.get("nope", "classify")
    with pytest.raises(WrongTask):
        remote.get("tiny-classifier", "perplexity")


def test_a_models_own_errors_reach_the_worker_as_they_were_raised(engine):
    _, remote = engine
    with pytest.raises(InputError):
        remote.get("tiny-lm", "perplexity").perplexity(["a"], None, None)
    with pytest.raises(InputError) as raised:
        remote.get("tiny-qa", "qa").answer([("Who? " * 200, "Paul lives in Madrid.")])
    assert raised.value.index == 0 and raised.value.field


def test_only_the_model_calls_cross_the_socket(engine):
    _, remote = engine
    model = remote.get("tiny-lm", "perplexity")
    with pytest.raises(AttributeError):
        model.warmup  # noqa: B018
    assert model.perplexity(["The cat sat on the mat."], None, None)[0][0].token_count > 1


def test_the_model_process_refuses_a_forged_call(engine):
    _, remote = engine
    with pytest.raises(AttributeError):
        remote.client.request(("call", "tiny-lm", "warmup", (), {}, ()))
    with pytest.raises(ModelNotFound):
        remote.client.request(("call", "nope", "classify", (["x"],), {}, ()))


def test_callbacks_run_in_the_worker_and_their_exceptions_go_back(engine, monkeypatch):
    inline, remote = engine
    model = inline.get("tiny-classifier", "classify")
    steps = []

    def with_progress(texts, on_step):  # a call that reports progress, like image generation
        for step in range(1, 4):
            on_step(step, 3)
        return len(texts)

    monkeypatch.setattr(model, "classify", with_progress, raising=False)
    assert remote.get("tiny-classifier", "classify").classify(["a", "b"], on_step=lambda s, n: steps.append(s)) == 2
    assert steps == [1, 2, 3]

    def cancel(step, steps):
        if step == 2:
            raise Cancelled()
    with pytest.raises(Cancelled):
        remote.get("tiny-classifier", "classify").classify(["a"], on_step=cancel)


def test_a_wrong_key_is_refused_with_503(engine):
    _, remote = engine
    client = ModelProcessClient(remote.client.address, b"wrong", timeout_s=5)
    with pytest.raises(ModelUnavailable):
        client.request(("state",))


def test_no_model_process_means_503_and_a_not_ready_registry(tmp_path):
    remote = RemoteRegistry(ModelProcessClient(str(tmp_path / "absent.sock"), b"k", timeout_s=5))
    ready, missing = remote.readiness()
    assert not ready and "model process" in missing
    with pytest.raises(ModelUnavailable) as raised:
        remote.get(None, "classify")
    assert raised.value.headers["Retry-After"]


def test_a_model_process_that_never_answers_gives_504_and_a_fresh_connection(tmp_path):
    address, key = str(tmp_path / "silent.sock"), b"k"
    listener = Listener(address, family="AF_UNIX", authkey=key)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    client = ModelProcessClient(address, key, timeout_s=0.3)
    with pytest.raises(Timeout):
        client.request(("state",))
    assert client._local.connection is None  # the late answer cannot be read by the next call
    for connection in accepted:
        connection.close()
    listener.close()


def test_the_engine_setting_is_checked_when_the_app_is_made(monkeypatch):
    from service import create_app
    with pytest.raises(ValueError, match="inline or process"):
        create_app({"ENGINE": "gpu", "LOAD_MODELS": False})
    monkeypatch.delenv("AIQA_ENGINE_SOCKET", raising=False)
    with pytest.raises(RuntimeError, match="gunicorn.conf.py"):
        create_app({"ENGINE": "process", "LOAD_MODELS": False})


MODEL_PROCESS = """
import json, os, sys, threading
from service.model_process import server
from service.model_process.client import ModelProcessClient, RemoteRegistry


def check():  # a worker's view, from a thread: the model process itself runs in the main thread
    key = os.environ["AIQA_ENGINE_AUTHKEY"].encode()
    remote = RemoteRegistry(ModelProcessClient(os.environ["AIQA_ENGINE_SOCKET"], key, 30))
    loaded = remote.wait(120)
    print(json.dumps({"ready": loaded and remote.readiness()[0], "default": remote.default_name("classify"),
                      "loaded": sorted(name for name in ("service.api", "service.jobs", "service.scoring",
                                                        "service.store") if name in sys.modules)}), flush=True)
    os._exit(0)


threading.Thread(target=check, daemon=True).start()
server.main()
"""


def test_the_model_process_builds_its_registry_without_the_app(tiny_profile, tmp_path):
    """No Flask app, blueprints, job store, evaluation store or metric modules in the model process:
    only the registry and the socket."""
    import json
    import os
    import subprocess
    import sys
    env = {**os.environ, "AIQA_MODELS": tiny_profile, "AIQA_CACHE_DIR": str(tmp_path), "AIQA_LOG_LEVEL": "WARNING",
           "AIQA_ENGINE_SOCKET": str(tmp_path / "engine.sock"), "AIQA_ENGINE_AUTHKEY": secrets.token_hex(16)}
    done = subprocess.run([sys.executable, "-c", MODEL_PROCESS], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"ready": True, "default": "tiny-classifier", "loaded": []}
    assert not (tmp_path / "jobs").exists()
