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
