"""The seam every model kind implements: load from a resolved source, warm up, describe itself."""
import contextlib
import functools
import logging
import threading
import time
from abc import ABC, abstractmethod

from ..admission import CostModel
from ..batching import DEFAULT_MAX_BATCH_SIZE, Batcher, BatchSettings
from ..contract import InputError, ModelSpec  # noqa: F401 (ModelSpec: the spec each kind's load() takes)
from ..observability import BATCH_SIZE, INFERENCE_DURATION

log = logging.getLogger(__name__)


def resolve_device(requested: str | None) -> str:
    import torch
    requested = (requested or "auto").lower()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} was asked for but CUDA is not available on this machine")
    return requested


def resolve_dtype(requested: str | None, device: str):
    """`auto` is float32 on CPU and bfloat16 (float16 where unsupported) on CUDA."""
    import torch
    requested = (requested or "auto").lower()
    if requested == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    dtypes = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
              "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if requested not in dtypes:
        raise ValueError(f"unknown dtype {requested!r}; use one of {sorted(dtypes)} or auto")
    if dtypes[requested] is not torch.float32 and device == "cpu":
        raise ValueError(f"dtype {requested} is for CUDA; on the CPU use float32")
    return dtypes[requested]


def load_pretrained(auto_class: str, source, device: str, dtype):
    """(model, tokenizer) from a resolved source, the one way every kind loads weights: safetensors
    only, never remote code, on `device` in eval mode."""
    import transformers
    revision = None if source.local else source.revision
    tokenizer = serial_tokenizer(transformers.AutoTokenizer.from_pretrained(source.path, revision=revision))
    model = getattr(transformers, auto_class).from_pretrained(
        source.path, dtype=dtype, revision=revision, use_safetensors=True, trust_remote_code=False)
    model.to(device).eval()
    return model, tokenizer


# The tokenizer methods that read or set the state a fast tokenizer keeps between calls.
SERIAL_METHODS = ("__call__", "encode", "encode_plus", "batch_encode_plus", "decode", "batch_decode",
                  "convert_ids_to_tokens", "apply_chat_template", "pad")


def serial_tokenizer(tokenizer):
    """The same tokenizer object, its calls made one at a time. A fast tokenizer sets padding and
    truncation on its shared Rust tokenizer for each call, so two threads calling it with different
    options interleave: a request thread counting tokens unpadded while the compute thread encoded a
    padded batch gave the batch rows of different lengths (a 500 under concurrent similarity requests
    with batching off). The object keeps its class as a base, so isinstance checks still hold."""
    if getattr(tokenizer, "_aiqa_lock", None) is not None:
        return tokenizer
    base = type(tokenizer)

    def locked(name):
        method = getattr(base, name)

        @functools.wraps(method)
        def call(self, *args, **kwargs):
            with self._aiqa_lock:
                return method(self, *args, **kwargs)
        return call

    tokenizer._aiqa_lock = threading.RLock()
    tokenizer.__class__ = type(base.__name__, (base,), {name: locked(name) for name in SERIAL_METHODS if hasattr(base, name)})
    return tokenizer


def is_out_of_memory(exc: BaseException) -> bool:
    import torch
    return isinstance(exc, torch.OutOfMemoryError)


# Text that the calibration calls (ModelWrapper.calibration_calls) repeat to reach a size: about ten
# tokens for most tokenizers.
CALIBRATION_SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


CALIBRATION_REPEATS = 3


def calibration_text(tokens: int) -> str:
    """About `tokens` tokens of plain English (more or less, by tokenizer)."""
    return " ".join([CALIBRATION_SENTENCE] * max(1, tokens // 12))


def batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ModelWrapper(ABC):
    """A loaded, warmed model. Subclasses add the capabilities they serve as methods."""

    task: str = ""
    capabilities: frozenset = frozenset()
    auto_class: str = ""  # the transformers Auto class of a kind whose weights load as one model

    @classmethod
    def load(cls, spec: ModelSpec, source, device: str, dtype):
        """The kind loaded from a resolved source: its model (of `auto_class`) and tokenizer. Kinds
        built otherwise (embeddings, images, zero-shot on a base model) override this."""
        model, tokenizer = load_pretrained(cls.auto_class, source, device, dtype)
        return cls(spec, model=model, tokenizer=tokenizer, device=device, dtype=dtype,
                   revision=source.revision, source=source.uri)

    def __init__(self, spec: ModelSpec, *, device: str, dtype, revision: str, source: str):
        self.spec = spec
        self.name = spec.name
        self.device = device
        self.dtype = dtype
        self.revision = revision
        self.source = source
        self.max_batch_size = int(spec.options.get("max_batch_size", DEFAULT_MAX_BATCH_SIZE))
        # One forward at a time per model: on a CPU, parallel forwards only fight over cores.
        self.lock = threading.RLock()
        self.batch_settings = BatchSettings(max_batch_size=self.max_batch_size)
        self._batchers: dict[str, Batcher] = {}
        self._batchers_lock = threading.Lock()
        self.costs: dict[str, CostModel] = {}
        self._costs_lock = threading.Lock()

    def configure_batching(self, settings: BatchSettings) -> None:
        """Apply settings in place: batchers made during warm-up hold this same object."""
        vars(self.batch_settings).update(vars(settings))
        self.max_batch_size = settings.max_batch_size

    def batched(self, kind: str, fn, payloads: list, length=len, units: list[int] | None = None,
                batches: int | None = None) -> list:
        """Run fn over payloads through this model's `kind` batcher, merged with concurrent requests,
        once their work (`units` per payload, default `length`; see Batcher.submit) is admitted."""
        return self.batcher(kind, lambda: Batcher(self.name, fn, self.batch_settings, length, is_out_of_memory,
                                                  self.cost(kind))).submit(payloads, units, batches)

    def batcher(self, kind: str, make) -> Batcher:
        """This model's batcher of `kind`, made by `make()` on first use."""
        with self._batchers_lock:
            if kind not in self._batchers:
                self._batchers[kind] = make()
            return self._batchers[kind]

    def cost(self, kind: str, unit: str = "token") -> CostModel:
        """The cost model of this model's `kind` of work (service.admission), made on first use."""
        with self._costs_lock:
            if kind not in self.costs:
                self.costs[kind] = CostModel(self.name, kind, unit)
            return self.costs[kind]

    def admit(self, kind: str, units: int, field: str, unit: str = "token") -> CostModel:
        """Refuse work done outside a batcher (one call, one batch) when it is over budget; the
        cost model, to time the work with."""
        cost = self.cost(kind, unit)
        cost.admit(1, units, self.batch_settings.work_limit_s, field)
        return cost

    def calibrate(self) -> None:
        """Time this model's work at a small and a large size for its cost models (service.admission),
        after warmup(). Each call runs three times; the fastest timing of each size is kept."""
        calls = self.calibration_calls()
        with contextlib.ExitStack() as stack:
            for kind, unit in dict.fromkeys((kind, unit) for kind, unit, _ in calls):
                stack.enter_context(self.cost(kind, unit).calibrating())
            for kind, _, call in calls:
                try:
                    for _ in range(CALIBRATION_REPEATS):
                        call()
                except InputError as exc:  # a window too small for the size: that size goes untimed
                    log.warning("calibration call skipped", extra={"fields": {
                        "model": self.name, "work": kind, "reason": str(exc)}})

    def calibration_calls(self) -> list[tuple[str, str, object]]:
        """(kind of work, its unit, a call doing some of it): a small and a large call per kind.
        None by default: such a kind admits everything."""
        return []

    def budget(self) -> dict:
        """What /v1/models shows of admission: the limit and each kind of work's rates."""
        limit = self.batch_settings.work_limit_s
        return {"limit_s": limit, "work": {kind: cost.describe(limit) for kind, cost in sorted(self.costs.items())}}

    def fitting_text(self, tokens: int) -> str:
        """Plain English of at most `tokens` tokens with the special tokens (fewer only by a word)."""
        words = calibration_text(tokens + 12).split()
        low, high = 1, len(words)
        while low < high:  # the most words that fit
            middle = (low + high + 1) // 2
            if len(self.tokenizer(" ".join(words[:middle]), verbose=False)["input_ids"]) <= tokens:
                low = middle
            else:
                high = middle - 1
        return " ".join(words[:low])

    def token_counts(self, texts: list[str], **options) -> list[int]:
        """Each text's tokens as the model reads it (`options`: the tokenizer's, as its forward passes
        them): the admission units of the kinds that tokenize in their batch function."""
        return [len(ids) for ids in self.tokenizer(texts, **options)["input_ids"]]

    def by_length(self, items: list, length, run) -> list:
        """`run(part)` over `items` sorted by `length`, in parts of at most max_batch_size (similar
        lengths pad little), each part's outputs put back in the items' order: the loop of every
        kind's batch function."""
        results = [None] * len(items)
        order = sorted(range(len(items)), key=lambda i: length(items[i]))
        for part in batches(order, self.max_batch_size):
            for i, output in zip(part, run([items[i] for i in part])):
                results[i] = output
        return results

    @abstractmethod
    def warmup(self) -> None:
        """Run one small inference so the first request does not pay for lazy initialisation."""

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def describe(self) -> dict:
        return {
            "name": self.name, "task": self.task, "source": self.source, "revision": self.revision,
            "device": self.device, "dtype": str(self.dtype).replace("torch.", ""),
            "max_batch_size": self.max_batch_size, "capabilities": sorted(self.capabilities),
            "budget": self.budget(),
        }

    @contextlib.contextmanager
    def forward(self, batch_size: int):
        """Hold the model, time the forward pass and record its batch size."""
        import torch
        with self.lock, torch.inference_mode():
            started = time.perf_counter()
            yield
            INFERENCE_DURATION.labels(self.name).observe(time.perf_counter() - started)
            BATCH_SIZE.labels(self.name).observe(batch_size)
