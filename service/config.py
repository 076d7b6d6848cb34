"""Configuration: defaults, then AIQA_* environment variables, then the caller's test_config.

Nothing is read at import time: `load_config` is called by `create_app`.
"""
import json
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
    "MAX_LABELS": 32,
    # torch intra-op threads per worker; 0 lets torch decide.
    "TORCH_THREADS": 0,
    # Log request texts (off: texts stay out of logs).
    "LOG_REQUEST_TEXTS": False,
    "LOG_LEVEL": "INFO",
}

PREFIX = "AIQA_"


def _coerce(raw: str, default):
    """Read an environment string as the type of its default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
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


def load_config(app, test_config=None, environ=None) -> None:
    """Fill app.config from defaults, the environment and test_config, in that order."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(from_environ(environ))
    if test_config:
        app.config.from_mapping(test_config)
    app.config["CACHE_DIR"] = os.path.expanduser(app.config["CACHE_DIR"])
