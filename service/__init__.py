"""aiqa: a scoring service that keeps Hugging Face models warm and answers scoring requests.

Run it with `gunicorn -c gunicorn.conf.py 'service:create_app()'`.
"""
from flask import Flask


def create_app(test_config=None) -> Flask:
    """Build the app: config, errors, metrics and logs, model registry, job store, evaluation store,
    the metric modules' preload, blueprints."""
    import threading

    from . import errors, jobs, observability, security, ui
    from .api import docs, register_blueprints
    from .config import load_config

    app = Flask(__name__, static_folder=None)  # no static files: every route is in openapi.yaml
    load_config(app, test_config)
    app.json.sort_keys = False
    errors.init_app(app)
    observability.init_app(app)
    security.init_app(app)  # after observability, so a refused request still gets its id and is counted
    _registry(app).init_app(app)
    jobs.init_app(app)
    if app.config["STORE"]:
        from .store import Store
        Store().init_app(app)
    if app.config["LOAD_MODELS"]:
        # Workers that load models also import the metric modules, in the background, so the first
        # metric request does not pay for importing evaluate; once the models are loaded, so that the
        # import does not run beside their warm-up timings (service/admission.py) and inflate them.
        registry = app.extensions["aiqa.registry"]
        threading.Thread(target=_preload_after_models, args=(registry,), name="aiqa-metric-loader",
                         daemon=True).start()
    register_blueprints(app)
    app.register_blueprint(docs.bp)
    ui.init_app(app)
    return app


def share_imports() -> None:
    """Import what every worker imports and never changes: the blueprints, the pages, the store, and
    the metric modules with their libraries (evaluate, datasets, scikit-learn, scipy, sacrebleu). Not
    nltk, which rouge and google_bleu import on first use, nor alembic, which only a process that
    migrates imports: every page held here is resident in every worker (tests/unit/test_shared_imports.py).

    gunicorn's master calls this before it forks the workers (gunicorn.conf.py), so the workers share
    these pages copy-on-write instead of each importing its own copy: measured with two workers, a
    process-mode worker's private memory drops from ~200 MB to ~30 MB (bench/bench_memory.py).
    `gc.freeze` keeps the collector of each worker from writing to the shared objects (which would
    copy their pages). No torch here: the model kinds import it where they load a model, after the
    fork. The caller makes `import transformers` fail meanwhile, since evaluate imports it (and
    torch) for pipelines this service never builds.
    """
    import gc
    import importlib
    import pkgutil

    from . import api, scoring
    shared = ["errors", "evaluations", "jobs", "observability", "operations", "registry", "runs", "security",
              "store", "ui", *(f"api.{found.name}" for found in pkgutil.iter_modules(api.__path__))]
    for name in shared:
        importlib.import_module(f"{__name__}.{name}")
    scoring.preload()
    gc.collect()
    gc.freeze()


def _preload_after_models(registry) -> None:
    from . import scoring
    registry.wait()
    scoring.preload()


def _registry(app):
    """The models of this process (ENGINE=inline) or a view of the model process's (ENGINE=process)."""
    from .registry import ModelRegistry
    engine = app.config["ENGINE"]
    if engine == "inline":
        return ModelRegistry()
    if engine == "process":
        from .model_process.client import ModelProcessClient, RemoteRegistry
        # A bound on each wait for the model process, past its own REQUEST_TIMEOUT_S (504) there.
        return RemoteRegistry(ModelProcessClient.from_environ(timeout_s=2 * app.config["REQUEST_TIMEOUT_S"] + 10))
    raise ValueError(f"AIQA_ENGINE={engine!r}: use inline or process")
