"""Shared fixtures: tiny models, apps on the real default profile, and a real gunicorn server."""
import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aiqa_fixtures import ROOT, LiveServer, free_port, tiny_model_builder, write_profile  # noqa: E402,F401
import pg_server  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_models() -> dict:
    """name -> directory of each tiny model, built once and cached under .cache/tiny-models."""
    return tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"))


@pytest.fixture(scope="session")
def tiny_profile(tiny_models, tmp_path_factory) -> str:
    """A profile of tiny models: BERT-like classifier, QA and NER heads, and a GPT-2-like LM."""
    return write_profile(tmp_path_factory.mktemp("profiles") / "tiny.yaml", [
        {"name": "tiny-classifier", "task": "text-classification", "source": f"dir:{tiny_models['bert-classifier']}",
         "options": {"max_batch_size": 4, "dtype": "float32"}},
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}",
         "options": {"max_batch_size": 4, "dtype": "float32"}},
        # float32 on a GPU too: the tests compare them with the transformers pipelines to 1e-5.
        {"name": "tiny-qa", "task": "question-answering", "source": f"dir:{tiny_models['bert-qa']}",
         "options": {"max_batch_size": 4, "dtype": "float32"}},
        {"name": "tiny-ner", "task": "token-classification", "source": f"dir:{tiny_models['bert-ner']}",
         "options": {"max_batch_size": 4, "dtype": "float32"}},
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


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, tiny_profile, tiny_models):
    """One gunicorn server for the session: the default profile plus the tiny test models.

    Its profile is the shipped default one extended with tiny models, so integration tests reach
    real weights and pipeline-comparable tiny heads through one server.
    """
    tmp = tmp_path_factory.mktemp("live")
    from service.registry import read_profile  # noqa: F401  (fail early if the package is broken)
    default = yaml.safe_load((ROOT / "service" / "profiles" / "default.yaml").read_text())
    tiny = yaml.safe_load(Path(tiny_profile).read_text())
    # A tiny text-to-image pipeline too, so the Postman collection's image requests run.
    tiny_sd = {"name": "tiny-sd", "task": "text-to-image", "source": f"dir:{tiny_models['stable-diffusion']}",
               "options": {"device": "cpu"}}
    profile = write_profile(tmp / "live.yaml", default["models"] + tiny["models"] + [tiny_sd], default["defaults"])
    server = LiveServer(tmp, env={"AIQA_MODELS": profile, "AIQA_JOBS_DIR": str(tmp / "jobs")}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """One real PostgreSQL server for the session: AIQA_TEST_DATABASE_URL when it is set, else a
    throwaway cluster on 127.0.0.1 (`make postgres` installs the binaries).

    Its `url` is the SQLAlchemy URL of its database; `create_database(name)` gives a test a database
    of its own.
    """
    server = pg_server.start_test_server(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()
