"""Generation on llama.cpp, for a causal LM whose source is a GGUF file (`generation_backend: llama.cpp`).

llama.cpp runs the file's quantized weights with its own CPU kernels: SmolLM2-135M's Q4_1 file
reads about a seventh of the bytes the float32 weights transformers runs do, which is what a decode
step on a CPU waits for (docs/decisions.md has the numbers). Only generation runs here; perplexity,
zero-shot classification and QA stay on the transformers model converted from the same file, whose
float32 log-probabilities are what the metrics are checked against.

The scheduling is the transformers path's (service/models/generation.py): one decode batch, rows
join at the next step and leave when done, every row sampled by its own Sequence with its own
generator. What differs is where the keys and values live: in one llama.cpp context that holds
`rows` sequences, each row a sequence id with a cache of its own of `window` tokens. A row's logits
are the same bits alone or beside other rows (tested), so greedy text and sampled text with a seed
are the same whatever ran beside them. They are not transformers' logits: llama.cpp quantizes
activations to 8 bits for its products with 4-bit weights, so its text can part from the
transformers backend's where two tokens are close (tests/unit/test_llama_backend.py measures how far they agree).

The llama.cpp calls run on the compute thread like every forward (service/compute.py); the context
keeps its own thread pool of the same size as torch's.
"""
import ctypes
import logging
import weakref

import numpy as np

from ..errors import ModelUnavailable

log = logging.getLogger(__name__)

# What /v1/models says of this backend's texts.
REPRODUCIBLE = ("greedy text, and sampled text with a seed, are the same alone or beside other requests (a row's "
                "logits are the same bits); not the transformers backend's text, which uses float32 weights, and "
                "not always a machine's with other llama.cpp kernels (AMX or AVX2), which can choose otherwise "
                "where two tokens are nearly tied")
INSTALL_HINT = ("install llama-cpp-python: `make install` builds it with kernels for this CPU "
                "(scripts/llama/build_wheel.py prints the folder of the wheel it built; pip install it from there)")
# llama.cpp's log levels (ggml_log_level) passed on to ours; its information lines are dropped.
_LEVELS = {3: logging.WARNING, 4: logging.ERROR}
# A prefix held by another free slot is copied in when it saves at least this many prompt tokens: a
# copy costs about as much as decoding two.
COPY_FROM_ANOTHER_SLOT = 4
_log_callback = None  # kept alive: llama.cpp calls it for as long as the library is loaded


def _library():
    """The llama_cpp bindings, their log sent to ours, the backend initialised once."""
    global _log_callback
    try:
        import llama_cpp
    except ImportError as exc:
        raise ValueError(f"generation_backend llama.cpp needs llama-cpp-python: {INSTALL_HINT}") from exc
    if _log_callback is None:
        def forward(level, text, _user_data):
            if level in _LEVELS and text:
                log.log(_LEVELS[level], "llama.cpp: %s", text.decode("utf-8", "replace").rstrip())
        _log_callback = llama_cpp.llama_log_callback(forward)
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        log.info("llama.cpp's CPU kernels: %s", llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip())
    return llama_cpp


class LlamaCppContext:
    """One GGUF model in one llama.cpp context: `rows` sequences at once, each with a cache of its own
    of `window` tokens (allocated up front: 2 x layers x KV heads x head size x 2 bytes a token),
    `threads` threads.

    Each row has a cache of its own rather than a share of one: in a shared cache a row that leaves
    frees cells in the middle, the next tokens of the others fill them, and a row whose keys are no
    longer in the order of their positions gets attention summed in another order, which changes
    the last bits of its logits and, now and then, its greedy text (measured: 4 of 8 texts of rows
    of different lengths). In its own cache a row's keys stay in order."""

    def __init__(self, path: str, *, rows: int, window: int, threads: int):
        lib = self.lib = _library()
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        self.model = lib.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            raise ValueError(f"llama.cpp could not load {path!r}")
        context = lib.llama_context_default_params()
        context.n_ctx = rows * window
        context.n_batch = max(window, rows)
        context.n_seq_max = rows
        context.kv_unified = False
        context.n_threads = context.n_threads_batch = threads
        self.context = lib.llama_init_from_model(self.model, context)
        if not self.context:
            lib.llama_model_free(self.model)
            raise ValueError(f"llama.cpp could not make a context of {rows} x {window} tokens for {path!r}")
        self.vocabulary = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self.model))
        self.memory = lib.llama_get_memory(self.context)
        self.batch = lib.llama_batch_init(context.n_batch, 0, 1)
        self.path, self.rows, self.window = path, rows, window
        self._finalizer = weakref.finalize(self, _free, lib, self.model, self.context, self.batch)

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> np.ndarray:
        """Decode (token, position, sequence id, wants logits) entries in one call: the float32
        logits of the entries that want them, in order, [n, vocabulary] (a copy)."""
        batch = self.batch
        for i, (token, position, sequence, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = sequence, logits
        batch.n_tokens = len(entries)
        status = self.lib.llama_decode(self.context, batch)
        if status == 1:  # no room in the cache: the windows checked before should never let this happen
            raise ModelUnavailable("the running generations do not fit in llama.cpp's cache; retry, or ask for "
                                   "fewer new tokens")
        if status != 0:
            raise RuntimeError(f"llama.cpp's decode failed with status {status}")
        wanted = sum(1 for entry in entries if entry[3])
        pointer = self.lib.llama_get_logits(self.context)
        return np.ctypeslib.as_array(pointer, shape=(wanted, self.vocabulary)).copy()

    def forget(self, sequence: int, start: int = 0) -> None:
        """Free a sequence's cells from position `start` on."""
        self.lib.llama_memory_seq_rm(self.memory, sequence, start, -1)

    def copy(self, source: int, target: int) -> None:
        """Make sequence `target`'s cells a copy of `source`'s (whole caches only, between rows' own)."""
        self.lib.llama_memory_seq_cp(self.memory, source, target, -1, -1)

    def clear(self) -> None:
        self.lib.llama_memory_clear(self.memory, True)

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's own tokens of `text` (special tokens parsed, no BOS added): for tests that the
        transformers tokenizer the service encodes with gives the file's ids."""
        data = text.encode()
        buffer = (self.lib.llama_token * (len(data) + 8))()
        n = self.lib.llama_tokenize(self.lib.llama_model_get_vocab(self.model), data, len(data), buffer,
                                    len(buffer), False, True)
        return list(buffer[:n])


def _free(lib, model, context, batch) -> None:
    lib.llama_batch_free(batch)
    lib.llama_free(context)
    lib.llama_model_free(model)


class LlamaDecodeBatch:
    """The running rows in a LlamaCppContext: each row holds a sequence id (a slot) while it runs.
    The same interface as generation.DecodeBatch; logits come back as torch tensors for Sequence.

    A slot keeps the keys and values of the tokens it held after its row leaves, as llama.cpp's own
    server keeps its slots' prompts: a row that joins takes the free slot whose tokens begin most
    like its prompt and decodes only the rest (a chat template's system prompt, a suite's shared
    instructions are decoded once). The logits are the same bits as those of the prompt decoded
    whole (tested), as a row's keys and values do not depend on what was decoded beside them."""

    def __init__(self, context: LlamaCppContext):
        self.context = context
        self.rows: list = []
        self.slots: list[int] = []
        self.held: dict[int, list[int]] = {}  # a free slot: the tokens whose keys and values it holds
        self.failed = False  # a decode failed: the context was cleared, and rows leaving hold nothing
        context.clear()  # one batch at a time owns the context

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def tokens(self) -> int:
        return sum(item.payload.tokens for item in self.rows)

    def join(self, item):
        import torch
        ids = item.payload.ids
        free = [slot for slot in range(self.context.rows) if slot not in self.slots]
        shared = {slot: shared_prefix(self.held.get(slot, ()), ids) for slot in free}
        # The lowest free slot: a step's cost grows with the span of the sequence ids in it (8 rows
        # in slots 0-7 34 ms, in 0, 2, ... 14 74 ms), so rows are kept packed at the low ids, and a
        # longer prefix held elsewhere is copied in (a copy of the slot's cache, ~5 ms).
        slot = free[0]
        best = max(free, key=shared.get)
        if shared[best] >= shared[slot] + COPY_FROM_ANOTHER_SLOT:
            self.context.copy(best, slot)
            shared[slot] = shared[best]
        reused = min(shared[slot], len(ids) - 1)  # the last prompt token is decoded again: its logits are needed
        self.held.pop(slot, None)
        self.context.forget(slot, reused)
        try:
            logits = self.context.decode([(ids[p], p, slot, p == len(ids) - 1) for p in range(reused, len(ids))])
        except Exception:
            self.context.forget(slot)  # the rows running go on
            raise
        self.rows.append(item)
        self.slots.append(slot)
        return torch.from_numpy(logits[0])

    def step(self):
        import torch
        entries = [(item.payload.out[-1], item.payload.position, slot, True) for item, slot in zip(self.rows, self.slots)]
        try:
            return torch.from_numpy(self.context.decode(entries))
        except Exception:  # every row fails (GenerationBatcher): start from an empty context
            self.context.clear()
            self.held.clear()
            self.failed = True
            raise

    def keep(self, keep: list[int]) -> None:
        for row in set(range(len(self.rows))) - set(keep):
            if not self.failed:
                sequence = self.rows[row].payload  # its last token was chosen, never decoded
                self.held[self.slots[row]] = sequence.ids + sequence.out[:-1]
        self.rows = [self.rows[i] for i in keep]
        self.slots = [self.slots[i] for i in keep]
        if not self.rows:
            self.failed = False


def shared_prefix(a, b) -> int:
    """How many tokens two sequences share from their start."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
