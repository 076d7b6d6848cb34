"""ModelRegistry: profile -> loaded, warmed models, one set per process that holds models.

Created unbound at import, bound by init_app(app) (a worker) or start(config) (the model process).
Loading runs once, in a background thread by default, so /livez answers and /readyz reports
progress. A model that fails to load is kept with its reason; the others serve.

ModelLookup is what every registry answers (readiness, describe, get, defaults) from its slots;
the model process's view in a worker (model_process.client.RemoteRegistry) shares it and loads nothing.
The model kinds are imported where models are loaded, not at import.
"""
import importlib.resources
import logging
import os
import threading
import time

import yaml

from .batching import DEFAULT_MAX_BATCH_SIZE, BatchSettings
from .contract import ModelSpec
from .errors import ModelNotFound, ModelUnavailable, WrongTask
from .observability import MODEL_LOADED

log = logging.getLogger(__name__)
PENDING, LOADING, READY, FAILED = "pending", "loading", "ready", "failed"


class ProfileError(ValueError):
    """A profile file that cannot be read or names an unknown task."""


def read_profile(profile: str | None, models_file: str | None) -> dict:
    """Read a shipped profile by name, or a YAML file by path (AIQA_MODELS wins over AIQA_PROFILE)."""
    from .models import DERIVED, LOADERS
    if models_file:
        with open(models_file) as fh:
            text = fh.read()
    else:
        resource = importlib.resources.files("service") / "profiles" / f"{profile}.yaml"
        if not resource.is_file():
            raise ProfileError(f"no shipped profile named {profile!r}")
        text = resource.read_text()
    data = yaml.safe_load(text) or {}
    specs = []
    for entry in data.get("models", []):
        entry = dict(entry)
        try:
            spec = ModelSpec(name=entry.pop("name"), task=entry.pop("task"), source=entry.pop("source", None),
                             base=entry.pop("base", None), revision=entry.pop("revision", None),
                             options=entry.pop("options", {}) or {})
        except KeyError as exc:
            raise ProfileError(f"a model entry lacks {exc.args[0]!r}") from exc
        if entry:
            raise ProfileError(f"model {spec.name!r} has unknown keys {sorted(entry)}")
        if spec.task not in LOADERS and spec.task not in DERIVED:
            raise ProfileError(f"model {spec.name!r}: unknown task {spec.task!r}; "
                               f"known: {sorted({*LOADERS, *DERIVED})}")
        specs.append(spec)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ProfileError("model names must be unique within a profile")
    return {"models": specs, "defaults": data.get("defaults", {}) or {}}


class Slot:
    """A configured model and what became of it."""

    def __init__(self, spec: ModelSpec, capabilities: frozenset):
        self.spec = spec
        self.capabilities = capabilities  # what its kind serves, known before it loads
        self.state = PENDING
        self.error: str | None = None
        self.model = None
        self.load_seconds: float | None = None

    def describe(self) -> dict:
        if self.model is not None:
            info = self.model.describe()
        else:
            info = {"name": self.spec.name, "task": self.spec.task, "source": self.spec.source or f"model:{self.spec.base}"}
        info["state"] = self.state
        if self.error:
            info["error"] = self.error
        if self.load_seconds is not None:
            info["load_seconds"] = round(self.load_seconds, 3)
        return info


class ModelLookup:
    """The answers every registry gives from its slots: readiness, descriptions, the model for a
    capability. Slots have `spec`, `capabilities`, `state`, `error`, `model` and describe()."""

    def __init__(self):
        self.slots: dict = {}
        self.defaults: dict[str, str] = {}
        self.config = {}

    def readiness(self) -> tuple[bool, dict]:
        missing = {name: (slot.error or slot.state) for name, slot in self.slots.items() if slot.state != READY}
        return not missing, missing

    def describe(self) -> list[dict]:
        return [slot.describe() for slot in self.slots.values()]

    def get(self, name: str | None, capability: str):
        """The ready model called `name` (or the default for `capability`) that can do `capability`."""
        name = name or self.default_name(capability)
        model = self.ready(name)
        if not model.can(capability):
            task = self.slots[name].spec.task
            raise WrongTask(f"model {name!r} ({task}) cannot serve {capability}",
                            errors={"model": [f"{name!r} is a {task} model"]})
        return model

    def ready(self, name: str):
        """The model called `name`; 404 when there is none, 503 while it loads or after it failed."""
        slot = self.slots.get(name)
        if slot is None:
            raise ModelNotFound(f"no model named {name!r}; known models: {sorted(self.slots)}",
                                errors={"model": [f"unknown model {name!r}"]})
        if slot.state == FAILED:
            raise ModelUnavailable(f"model {name!r} failed to load: {slot.error}")
        if slot.state != READY:
            raise ModelUnavailable(f"model {name!r} is {slot.state}; retry shortly", headers={"Retry-After": "5"})
        return slot.model

    def default_name(self, capability: str) -> str:
        if capability in self.defaults:
            return self.defaults[capability]
        for name, slot in self.slots.items():
            if capability in slot.capabilities:
                return name
        raise ModelNotFound(f"no model in this profile serves {capability}")


class ModelRegistry(ModelLookup):
    """The models of this process: read from the profile, loaded, warmed."""

    def __init__(self):
        super().__init__()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    def init_app(self, app) -> None:
        app.extensions["aiqa.registry"] = self
        self.start(app.config)

    def start(self, config) -> None:
        """Read the profile named by `config` and load its models (in the background by default)."""
        from .models import DERIVED, LOADERS
        self.config = config
        profile = read_profile(config["PROFILE"], config["MODELS"])
        self.slots = {spec.name: Slot(spec, (LOADERS.get(spec.task) or DERIVED[spec.task]).capabilities)
                      for spec in profile["models"]}
        self.defaults = profile["defaults"]
        if not config["LOAD_MODELS"]:
            self._done.set()
            return
        if config["LOAD_IN_BACKGROUND"]:
            self._thread = threading.Thread(target=self.load_all, name="aiqa-model-loader", daemon=True)
            self._thread.start()
        else:
            # On a thread of its own all the same: the OpenMP team of a thread that ran kernels lives
            # as long as the thread, and would slow the compute thread's (service/compute.py).
            loader = threading.Thread(target=self.load_all, name="aiqa-model-loader")
            loader.start()
            loader.join()

    # -- loading -------------------------------------------------------------------------------
    def load_all(self) -> None:
        import torch
        import transformers
        transformers.logging.disable_progress_bar()
        threads = self.config.get("TORCH_THREADS") or 0
        if threads:
            torch.set_num_threads(threads)
        if self.config.get("DETERMINISTIC"):
            # cuBLAS needs this before its first call to be deterministic.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.manual_seed(0)
        from .models import DERIVED
        try:
            # Models with weights first; derived ones need their base loaded.
            for slot in sorted(self.slots.values(), key=lambda s: s.spec.task in DERIVED):
                self._load(slot)
        finally:
            self._done.set()

    def _load(self, slot: Slot) -> None:
        from .models import DERIVED, LOADERS, resolve_device, resolve_dtype
        from .models.options import problems
        from .models.sources import resolve
        spec = slot.spec
        slot.state = LOADING
        started = time.perf_counter()
        try:
            wrong = problems(spec.task, spec.options)
            if wrong:  # before any weights load: a typo costs no minutes
                raise ValueError(f"{'; '.join(wrong)} (profile options of model {spec.name!r})")
            if spec.task in DERIVED:
                base = self.slots.get(spec.base)
                if base is None or base.state != READY:
                    reason = "is not in the profile" if base is None else f"is {base.state}"
                    raise RuntimeError(f"base model {spec.base!r} {reason}")
                model = DERIVED[spec.task].load(spec, base.model)
            else:
                device = resolve_device(self.config.get("DEVICE") or spec.options.get("device"))
                requested_dtype = "float32" if self.config.get("DETERMINISTIC") else spec.options.get("dtype")
                dtype = resolve_dtype(requested_dtype, device)
                source = resolve(spec.source or "", self.config["CACHE_DIR"], spec.revision)
                model = LOADERS[spec.task].load(spec, source, device, dtype)
            model.warmup()
            model.calibrate()
            # After warm-up, so a short request timeout cannot fail the warm-up itself.
            if spec.task not in DERIVED:
                model.configure_batching(self.batch_settings(spec))
        except Exception as exc:  # a model that fails must not take the others down
            slot.state, slot.error = FAILED, f"{type(exc).__name__}: {exc}"
            log.error("model failed to load", extra={"fields": {"model": spec.name, "error": slot.error}})
            return
        slot.model, slot.state = model, READY
        slot.load_seconds = time.perf_counter() - started
        MODEL_LOADED.labels(spec.name, model.device).set(1)
        log.info("model ready", extra={"fields": {"model": spec.name, "device": model.device,
                                                  "seconds": round(slot.load_seconds, 3)}})

    def batch_settings(self, spec: ModelSpec) -> BatchSettings:
        options, config = spec.options, self.config
        return BatchSettings(
            max_batch_size=int(options.get("max_batch_size", DEFAULT_MAX_BATCH_SIZE)),
            max_wait_ms=float(options.get("max_wait_ms", config["MAX_WAIT_MS"])),
            max_gap_ms=float(options.get("max_gap_ms", config["MAX_GAP_MS"])),
            max_queue=int(options.get("max_queue", config["MAX_QUEUE"])),
            timeout_s=float(config["REQUEST_TIMEOUT_S"]),
            max_work_s=float(config["MAX_WORK_S"]) or None,
            merge=bool(config["BATCHING"]) and not config["DETERMINISTIC"])

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading has finished (for tests and scripts); True when it did."""
        return self._done.wait(timeout)


def current_registry() -> ModelLookup:
    from flask import current_app
    return current_app.extensions["aiqa.registry"]
