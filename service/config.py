"""Configuration: defaults, then AIQA_* environment variables, then the caller's test_config.

Nothing is read at import time: `load_config` is called by `create_app`.
"""
import json
import math
import os

DEFAULTS = {
    # Which models to load: a shipped profile name (`default`, `gpu`) or a path to a YAML file.
    "PROFILE": "default",
    "MODELS": None,
    # Where converted weights (GGUF -> safetensors) and other derived files are kept.
    "CACHE_DIR": os.path.join("~", ".cache", "aiqa"),
    # Load models when the app is created; `False` is for tests of the HTTP layer alone.
    "LOAD_MODELS": True,
    # Load in a background thread so /livez answers and /readyz reports progress while loading.
    "LOAD_IN_BACKGROUND": True,
    # Overrides every model's device (`auto`, `cpu`, `cuda`, `cuda:1`); None keeps each model's own.
    "DEVICE": None,
    # Request limits.
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "MAX_ITEMS": 256,
    "MAX_TEXT_CHARS": 20_000,
    "MAX_NEW_TOKENS": 512,
    # Metrics score predictions other services made, so they take far more items than a model does:
    # up to MAX_METRIC_ITEMS items (or seqeval tags) per request, in a body of up to
    # MAX_METRIC_CONTENT_LENGTH bytes on the /v1/metrics routes only. A bootstrap may redraw at most
    # MAX_BOOTSTRAP_DRAWS items in all (resamples x items), with at most MAX_RESAMPLES resamples.
    "MAX_METRIC_ITEMS": 1_000_000,
    "MAX_METRIC_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MAX_RESAMPLES": 10_000,
    "MAX_BOOTSTRAP_DRAWS": 200_000_000,
    # Where the models run: `inline`, in every gunicorn worker (each holds a copy and batches its own
    # requests); `process`, in one model process per server that every worker hands its model calls
    # to, so all requests meet in the same batches and each GPU holds one copy (service/model_process).
    "ENGINE": "inline",
    # Dynamic batching per model (options max_batch_size, max_wait_ms, max_gap_ms, max_queue override these).
    "BATCHING": True,
    # A batch waits up to MAX_WAIT_MS after its oldest item for company, and stops once none has
    # arrived for MAX_GAP_MS (0: no such stop): bursts fill a batch, a lone request waits the gap only.
    "MAX_WAIT_MS": 20.0,
    "MAX_GAP_MS": 3.0,
    "MAX_QUEUE": 256,
    # A request whose work has not finished after this many seconds gets 504 and is dropped.
    "REQUEST_TIMEOUT_S": 60.0,
    # A request whose work is estimated (from rates timed at warm-up) to take longer than this many
    # seconds is refused at once with 413 (service/admission.py); 0: REQUEST_TIMEOUT_S.
    "MAX_WORK_S": 0.0,
    # Bit-for-bit repeatable scores: batching off, float32, deterministic kernels, pinned seeds.
    "DETERMINISTIC": False,
    # Images (/v1/images): width and height are multiples of 8 from 64 to MAX_IMAGE_SIZE pixels;
    # at most MAX_IMAGE_STEPS denoising steps and MAX_IMAGES images per request.
    "MAX_IMAGE_SIZE": 1024,
    "MAX_IMAGE_STEPS": 100,
    "MAX_IMAGES": 4,
    # Jobs (/v1/images/jobs): at most JOB_QUEUE_SIZE queued or running across all workers (429
    # beyond); finished jobs and their results are kept JOB_RESULT_TTL_SECONDS. JOBS_DIR is shared
    # by the workers of one server; None: CACHE_DIR/jobs.
    "JOB_QUEUE_SIZE": 16,
    "JOB_RESULT_TTL_SECONDS": 3600,
    "JOBS_DIR": None,
    # gunicorn's master imports what every worker needs and no model touches (blueprints, store, the
    # metric modules and their libraries) before it forks them, so they share it (gunicorn.conf.py).
    "SHARE_IMPORTS": True,
    # torch intra-op threads per worker; 0 lets torch decide.
    "TORCH_THREADS": 0,
    # Log request texts (off: texts stay out of logs).
    "LOG_REQUEST_TEXTS": False,
    # API keys, comma-separated; empty: no key needed. Paths exempt from keys and the rate limit
    # (comma-separated; each covers the paths under it). Rate limit per key (per client address
    # without keys) and per worker process, in requests per second (0: off), with bursts.
    "API_KEYS": "",
    "AUTH_EXEMPT": "/livez,/readyz,/metrics,/openapi.yaml,/docs",
    "RATE_LIMIT": 0.0,
    "RATE_LIMIT_BURST": 10,
    # The evaluation store (runs, recorded evaluations): a SQLAlchemy URL, e.g.
    # postgresql://aiqa@db/aiqa (read with psycopg 3) for several workers or replicas; None: a SQLite
    # file CACHE_DIR/aiqa.db. STORE=False leaves it closed (the model process, which serves no HTTP).
    "DATABASE_URL": None,
    "STORE": True,
    # Retention of runs, per suite and target: drop runs older than RUN_RETENTION_DAYS, and all but
    # the newest RUN_RETENTION_PER_SUITE (0: keep). A run body may be up to MAX_RUN_CONTENT_LENGTH
    # bytes with up to MAX_RUN_CASES cases.
    "RUN_RETENTION_DAYS": 0,
    "RUN_RETENTION_PER_SUITE": 0,
    "MAX_RUN_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_RUN_CASES": 10_000,
    # /metrics shows the newest run of at most QUALITY_SERIES_LIMIT suites (and as many recorded
    # evaluations), read within QUALITY_TIMEOUT_S or left out (aiqa_store_up 0).
    "QUALITY_SERIES_LIMIT": 1000,
    "QUALITY_TIMEOUT_S": 2.0,
    # Where /openapi.yaml is read from; None: openapi.yaml beside the service package (a checkout).
    "OPENAPI_PATH": None,
    "LOG_LEVEL": "INFO",
}

PREFIX = "AIQA_"
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _coerce(raw: str, default):
    """Read an environment string as the type of its default."""
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in TRUE | FALSE:  # a typo is refused, not read as false
            raise ValueError(f"not one of {', '.join(sorted(TRUE | FALSE))}")
        return word in TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw


def from_environ(environ=None) -> dict:
    """Return the AIQA_* overrides found in `environ` (os.environ when None)."""
    environ = os.environ if environ is None else environ
    overrides = {}
    for key, value in environ.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):]
        default = DEFAULTS.get(name)
        try:
            overrides[name] = _coerce(value, default) if default is not None else value
        except ValueError as exc:
            raise ValueError(f"{key}={value!r} is not a valid {type(default).__name__}") from exc
    return overrides


def read_config(test_config=None, environ=None) -> dict:
    """The settings: defaults, then the environment, then test_config."""
    config = {**DEFAULTS, **from_environ(environ), **(test_config or {})}
    config["CACHE_DIR"] = os.path.expanduser(config["CACHE_DIR"])
    return config


def load_config(app, test_config=None, environ=None) -> None:
    """Fill app.config from defaults, the environment and test_config, in that order."""
    app.config.from_mapping(read_config(test_config, environ))
