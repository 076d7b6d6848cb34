"""Causal language models: the log-likelihood of a continuation is the primitive behind
perplexity, zero-shot classification and (later) extractive QA; plus text generation.

Perplexity convention: the first token of the tokenized text is never predicted (nothing precedes
it). Where the tokenizer adds a BOS token (Llama-style tokenizers do) that first token is BOS and every
text token is predicted from it; where it adds none (GPT-2, SmolLM2) the first text token is context
only and `token_counts` is one less than the number of text tokens.
"""
import functools
import math
import random
import time
from dataclasses import dataclass

import numpy as np

from ..contract import InputError
from .base import ModelWrapper, calibration_text
from .generation import DecodeBatch, GenerationBatcher, Sequence
from .span_qa import SpanQA

# Chosen by measurement on SmolLM2-135M-Instruct: 14 of 14 probe sentences right with labels
# positive/negative after calibration (a prompt listing the labels with commas got 5 of 10).
DEFAULT_ZERO_SHOT_PROMPT = "Which of these best describes this text: {labels}? Answer with one word.\n\nText: {text}"
CONTENT_FREE_INPUTS = ("N/A", "")
# Predicted positions sent through the LM head at once: bounds the [positions, vocabulary] logits.
HEAD_SLICE = 2048
CALIBRATIONS_KEPT = 256
# llama.cpp's default max_tokens_in_flight, split evenly between the rows (each has a cache of its own,
# allocated up front): 16 rows of 1,024 tokens, 377 MB for SmolLM2-135M.
LLAMA_TOKENS_IN_FLIGHT = 16384
# What /v1/models says of the texts of the transformers backend (service/models/generation.py, tested).
REPRODUCIBLE = ("greedy text, and sampled text with a seed, are the same alone or beside other requests, and the "
                "same as transformers' generate with top_k=0; the logits are not promised to the last bit")


def join_labels(labels) -> str:
    """'a or b', 'a, b or c': the way a question lists its choices."""
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


@dataclass
class PerplexityResult:
    perplexity: float
    nll_sum: float
    token_count: int


def perplexity_answer(results: list, max_length: int, stride: int) -> dict:
    """What /v1/perplexity and the perplexity metric answer from CausalLM.perplexity's results."""
    perplexities = [float(result.perplexity) for result in results]
    return {"perplexities": perplexities, "mean_perplexity": math.fsum(perplexities) / len(perplexities),
            "token_counts": [int(result.token_count) for result in results], "max_length": max_length,
            "stride": stride}


class CausalLM(ModelWrapper):
    task = "causal-lm"
    capabilities = frozenset({"perplexity", "generate", "zero-shot", "classify", "loglikelihood", "qa"})
    auto_class = "AutoModelForCausalLM"

    @classmethod
    def load(cls, spec, source, device: str, dtype):
        """The transformers model, and for `generation_backend` llama.cpp (or auto, on the CPU, with a
        GGUF source) a llama.cpp context on the source's GGUF file for generation."""
        lm = super().load(spec, source, device, dtype)
        backend = spec.options.get("generation_backend", "transformers")
        if backend == "auto":
            backend = "llama.cpp" if source.gguf and device == "cpu" else "transformers"
        if backend == "llama.cpp":
            import torch

            from .llama_backend import LlamaCppContext
            if not source.gguf:
                raise ValueError(f"generation_backend llama.cpp needs a GGUF source; {spec.name!r} has {source.uri!r}")
            if device != "cpu":
                raise ValueError(f"generation_backend llama.cpp runs on the CPU; {spec.name!r} is on {device!r} "
                                 "(use transformers or auto there)")
            rows = lm.generation_rows_limit
            tokens = spec.options.get("max_tokens_in_flight", LLAMA_TOKENS_IN_FLIGHT)
            window = min(lm.max_length, tokens // rows)
            if window < 16:
                raise ValueError(f"max_tokens_in_flight {tokens} over {rows} rows leaves each generation of "
                                 f"{spec.name!r} {window} tokens; give it at least 16 a row")
            lm.llama = LlamaCppContext(source.gguf, rows=rows, window=window, threads=torch.get_num_threads())
        return lm

    def __init__(self, spec, *, model, tokenizer, **kwargs):
        super().__init__(spec, **kwargs)
        self.llama = None  # a llama_backend.LlamaCppContext when generation runs on llama.cpp
        self.model = model
        self.tokenizer = tokenizer
        positions = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", 1024)
        self.max_length = int(spec.options.get("max_length", min(positions, 2048)))
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.use_chat_template = bool(spec.options.get("chat_template", tokenizer.chat_template is not None))
        self._calibrations: dict[tuple, np.ndarray] = {}
        self.span_qa = SpanQA(self)

    def warmup(self) -> None:
        self.perplexity(["Warm-up text for the model."])

    def calibration_calls(self):
        long = self.fitting_text(min(128, self.max_length))
        context = calibration_text(min(48, self.max_length // 4))
        prompt = "Write a long story about a fox."
        return [("logprobs", "token", lambda: self.perplexity(["Calibration text for the model."])),
                ("logprobs", "token", lambda: self.perplexity([long] * self.max_batch_size)),
                ("span-qa", "token", lambda: self.answer([("What jumps?", "The fox jumps.")])),
                ("span-qa", "token", lambda: self.answer([("What jumps?", context)])),
                ("generate", "new token", lambda: self.generate(prompt=prompt, max_new_tokens=2)),
                ("generate", "new token", lambda: self.generate(prompt=prompt, max_new_tokens=8))]

    # -- the primitive -------------------------------------------------------------------------
    def encode(self, text: str, special_tokens: bool = True) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special_tokens)["input_ids"]

    def token_logprobs(self, rows: list[tuple[list[int], int]]) -> list[np.ndarray]:
        """For each (ids, n_context) row, the log-probability of every token in ids[n_context:].

        Rows of concurrent requests are batched together (see service.batching)."""
        return self.batched("logprobs", self._token_logprobs_batch, rows, length=lambda row: len(row[0]))

    def _token_logprobs_batch(self, rows: list[tuple[list[int], int]]) -> list[np.ndarray]:
        """Rows are sorted by length and padded on the right, so a row's scores do not depend on the
        rows it shares a batch with; only the positions that are predicted go through the LM head."""
        return self.by_length(rows, lambda row: len(row[0]), self._token_logprobs_part)

    def _token_logprobs_part(self, rows: list[tuple[list[int], int]]) -> list[np.ndarray]:
        import torch
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        positions, targets, counts = [], [], []
        for b, (ids, n_context) in enumerate(rows):
            input_ids[b, :len(ids)] = torch.tensor(ids)
            mask[b, :len(ids)] = 1
            positions.extend((b, p) for p in range(n_context - 1, len(ids) - 1))
            targets.extend(ids[n_context:])
            counts.append(len(ids) - n_context)
        with self.forward(len(rows)):
            hidden = self.model.base_model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).last_hidden_state
            logprobs = self._predicted_logprobs(hidden, positions, targets)
        return np.split(logprobs, np.cumsum(counts)[:-1])

    def _predicted_logprobs(self, hidden, positions, targets) -> np.ndarray:
        """log p(target) at each (row, position) of `hidden`, all rows at once, one copy to the host.

        The LM head runs over the predicted positions only, in slices, so the full-vocabulary logits
        of a long batch never sit in memory together."""
        import torch
        index = torch.tensor(positions, device=self.device)
        selected = hidden[index[:, 0], index[:, 1]]
        wanted = torch.tensor(targets, device=self.device)
        head = self.model.get_output_embeddings()
        out = torch.empty(len(targets), device=self.device, dtype=torch.float32)
        for start in range(0, len(targets), HEAD_SLICE):
            logits = head(selected[start:start + HEAD_SLICE]).float()
            picked = logits.gather(-1, wanted[start:start + HEAD_SLICE, None])[:, 0]
            out[start:start + HEAD_SLICE] = picked - logits.logsumexp(-1)
        return out.cpu().numpy().astype(np.float64)

    # -- perplexity ------------------------------------------------------------------------------
    def perplexity_windows(self, ids: list[int], max_length: int, stride: int) -> list[tuple[list[int], int]]:
        """Overlapping windows in which every token after the first is predicted exactly once.

        Window k starts at k*stride; it predicts the tokens the previous window did not reach, each
        from all the window's tokens before it (at least max_length - stride of context).
        """
        rows, predicted_until = [], 1
        for begin in range(0, len(ids), stride):
            end = min(begin + max_length, len(ids))
            if end > predicted_until:
                rows.append((ids[begin:end], predicted_until - begin))
                predicted_until = end
            if end == len(ids):
                break
        return rows

    def perplexity(self, texts: list[str], max_length: int | None = None, stride: int | None = None):
        max_length = max_length or self.max_length
        stride = stride or max(1, max_length // 2)
        rows, owner = [], []
        for index, text in enumerate(texts):
            ids = self.encode(text)
            if len(ids) < 2:
                # A text with fewer than two tokens has no token to predict.
                raise InputError(None, "inputs",
                                 f"inputs[{index}] has {len(ids)} token(s); perplexity needs at least 2")
            windows = self.perplexity_windows(ids, max_length, stride)
            rows.extend(windows)
            owner.extend([index] * len(windows))
        nll = [0.0] * len(texts)
        counts = [0] * len(texts)
        for index, logprobs in zip(owner, self.token_logprobs(rows)):
            nll[index] -= float(logprobs.sum())
            counts[index] += len(logprobs)
        return [PerplexityResult(math.exp(n / c), n, c) for n, c in zip(nll, counts)], max_length, stride

    # -- zero-shot classification -----------------------------------------------------------------
    def build_prompt(self, instruction: str) -> str:
        if self.use_chat_template:
            return self.chat([{"role": "user", "content": instruction}])
        return instruction + "\n"

    def label_loglikelihoods(self, prompts: list[str], continuations: list[str]) -> np.ndarray:
        """Sum of log-probabilities of each continuation after each prompt: [prompts, continuations]."""
        rows, too_long = [], {}
        for index, prompt in enumerate(prompts):
            prompt_ids = self.encode(prompt, special_tokens=not self.use_chat_template)
            for continuation in continuations:
                ids = prompt_ids + self.encode(continuation, special_tokens=False)
                if len(ids) > self.max_length:
                    too_long[index] = (f"{len(ids)} tokens with the prompt and label; "
                                       f"{self.name!r} reads at most {self.max_length}.")
                rows.append((ids, len(prompt_ids)))
        if too_long:
            raise InputError(None, "inputs", f"{len(too_long)} input(s) do not fit {self.name!r}'s window",
                             each=too_long)
        sums = [float(lp.sum()) for lp in self.token_logprobs(rows)]
        return np.array(sums).reshape(len(prompts), len(continuations))

    def zero_shot(self, texts, labels, *, prompt_template=None, hypothesis_template="{}"):
        """Score each label as the continuation of a prompt; calibrate; softmax over labels.

        Contextual calibration: the label scores the model gives content-free inputs ("N/A", "") are
        subtracted, which removes the model's prior for a label regardless of the text.
        """
        template = prompt_template or DEFAULT_ZERO_SHOT_PROMPT
        label_list = join_labels(labels)
        continuations = [hypothesis_template.format(label) for label in labels]
        prompts = [self.build_prompt(template.format(text=t, labels=label_list)) for t in texts]
        scores = self.label_loglikelihoods(prompts, continuations)
        calibrated = scores - self.calibration(template, labels, hypothesis_template)
        calibrated -= calibrated.max(axis=1, keepdims=True)
        probs = np.exp(calibrated)
        return probs / probs.sum(axis=1, keepdims=True)

    def calibration(self, template, labels, hypothesis_template="{}") -> np.ndarray:
        """The label scores of content-free inputs; the same for every request with these labels, so
        kept (for up to CALIBRATIONS_KEPT label sets) instead of recomputed per request."""
        template = template or DEFAULT_ZERO_SHOT_PROMPT
        key = (template, tuple(labels), hypothesis_template)
        if key not in self._calibrations:
            label_list = join_labels(labels)
            continuations = [hypothesis_template.format(label) for label in labels]
            prompts = [self.build_prompt(template.format(text=t, labels=label_list)) for t in CONTENT_FREE_INPUTS]
            scores = self.label_loglikelihoods(prompts, continuations).mean(axis=0)
            if len(self._calibrations) >= CALIBRATIONS_KEPT:
                self._calibrations.clear()
            self._calibrations[key] = scores
        return self._calibrations[key]

    def classify(self, texts, *, candidate_labels=None, hypothesis_template=None, **_):
        probs = self.zero_shot(texts, candidate_labels, hypothesis_template=hypothesis_template or "{}")
        return [dict(zip(candidate_labels, row.tolist())) for row in probs]

    # -- extractive QA ------------------------------------------------------------------------------
    def answer(self, pairs, **options):
        """Answer with the context's most likely span: see span_qa."""
        return self.span_qa.answer(pairs, **options)

    # What SpanQA asks of the model besides encode, batched and the window.
    def encode_many(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def chat(self, turns: list[dict], reply: bool = True) -> str:
        """The chat template's text for `turns`, opening the assistant's reply when `reply`."""
        return self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=reply)

    def prefix_state(self, ids: list[int]):
        """Run `ids` once: (their per-layer keys and values, the log-probabilities of what follows).
        Every position is kept, whatever window the model's own cache would slide."""
        from transformers import DynamicCache
        layers, logits = self._run_prefix(ids, DynamicCache())
        return layers, logits.log_softmax(-1).cpu().numpy().astype(np.float64)

    def _run_prefix(self, ids: list[int], cache):
        """One forward over `ids` alone into `cache`: (its keys and values per layer, the float32
        logits of what follows)."""
        import torch
        with self.forward(1):
            hidden = self.model.base_model(input_ids=torch.tensor([ids], device=self.device), use_cache=True,
                                           **{self._cache_keyword: cache}).last_hidden_state
            logits = self.model.get_output_embeddings()(hidden[0, -1]).float()
        return [(layer.keys, layer.values) for layer in cache.layers], logits

    def packed_logprobs(self, state, prefix_len: int, rows: list[list[int]], end_id: int):
        """Rows of tokens packed into one sequence after a prefix (`state` from prefix_state), each row
        attending to the prefix and to itself only, positions restarting after the prefix for each.
        For every position: log P(the row's next token), and log P(end_id) there."""
        import torch
        from transformers import DynamicCache
        input_ids, positions, mask = self._packed_inputs(rows, prefix_len)
        nexts = torch.tensor([t for row in rows for t in row[1:] + [end_id]], device=self.device)
        with self.forward(len(rows)):
            cache = DynamicCache(ddp_cache_data=state)  # a fresh copy of the prefix's: the forward appends to it
            hidden = self.model.base_model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                           use_cache=True, **{self._cache_keyword: cache}).last_hidden_state
            logprobs = self.model.get_output_embeddings()(hidden[0]).float().log_softmax(-1)
            following = logprobs.gather(-1, nexts[:, None])[:, 0]
            ending = logprobs[:, end_id]
        return following.cpu().numpy().astype(np.float64), ending.cpu().numpy().astype(np.float64)

    def _packed_inputs(self, rows: list[list[int]], prefix_len: int):
        import torch
        ids = [token for row in rows for token in row]
        positions, blocked = [], torch.ones((len(ids), prefix_len + len(ids)), dtype=torch.bool)
        blocked[:, :prefix_len] = False
        offset = 0
        for row in rows:
            n = len(row)
            positions += range(prefix_len, prefix_len + n)
            blocked[offset:offset + n, prefix_len + offset:prefix_len + offset + n] = \
                torch.ones((n, n), dtype=torch.bool).triu(1)
            offset += n
        dtype = self.model.dtype
        mask = torch.zeros(blocked.shape, dtype=dtype).masked_fill(blocked, torch.finfo(dtype).min)
        return (torch.tensor([ids], device=self.device), torch.tensor([positions], device=self.device),
                mask[None, None].to(self.device))

    @functools.cached_property
    def _cache_keyword(self) -> str:
        import inspect
        # transformers 5 renamed past_key_values to cache
        parameters = inspect.signature(self.model.base_model.forward).parameters
        return "cache" if "cache" in parameters else "past_key_values"

    # -- generation (service/models/generation.py) ------------------------------------------------
    @property
    def generation_rows_limit(self) -> int:
        """The profile's `max_generation_rows`, or twice max_batch_size (a decode step's cost grows
        slowly with its rows)."""
        return int(self.spec.options.get("max_generation_rows", 2 * self.max_batch_size))

    @property
    def max_generation_rows(self) -> int:
        """The most generations running at once: generation_rows_limit; 1 with batching off, and for
        transformers models whose cache keeps a sliding window (its rows could not be padded to one
        width; llama.cpp keeps each row's window itself)."""
        if not self.batch_settings.merge or (self.llama is None and not self._full_cache):
            return 1
        return self.generation_rows_limit

    @functools.cached_property
    def _full_cache(self) -> bool:
        """Whether every layer of this model's cache keeps all positions (no sliding window)."""
        from transformers import DynamicCache
        return all(type(layer).__name__ == "DynamicLayer" for layer in DynamicCache(config=self.model.config).layers)

    @property
    def max_tokens_in_flight(self) -> int:
        """The most tokens (prompts plus max_new_tokens) of the generations running at once: the
        profile's `max_tokens_in_flight`, or as many full windows as rows. llama.cpp allocates a
        cache of max_tokens_in_flight / rows tokens for each row up front (default
        LLAMA_TOKENS_IN_FLIGHT in all, a window at most a row); with batching off one row runs."""
        if self.llama is not None:
            return min(self.llama.rows, self.max_generation_rows) * self.llama.window
        if "max_tokens_in_flight" in self.spec.options:
            return int(self.spec.options["max_tokens_in_flight"])
        return self.max_generation_rows * self.max_length

    @property
    def generation_window(self) -> int:
        """The most tokens (prompt plus max_new_tokens) of one generation: the model's window, or on
        llama.cpp each row's share of max_tokens_in_flight when that is less."""
        return self.max_length if self.llama is None else self.llama.window

    def describe(self) -> dict:
        from .llama_backend import REPRODUCIBLE as LLAMA_REPRODUCIBLE
        return {**super().describe(), "generation": {
            "batching": "continuous" if self.max_generation_rows > 1 else "off",
            "max_rows": self.max_generation_rows,
            "max_tokens_in_flight": self.max_tokens_in_flight,
            "window": self.generation_window,
            "backend": "transformers" if self.llama is None else "llama.cpp",
            "reproducible": REPRODUCIBLE if self.llama is None else LLAMA_REPRODUCIBLE}}

    def decode_batch(self):
        """An empty batch of running generations on this model's backend (generation.DecodeBatch)."""
        if self.llama is not None:
            from .llama_backend import LlamaDecodeBatch
            return LlamaDecodeBatch(self.llama)
        return DecodeBatch(self)

    def prefill(self, ids: list[int]):
        """Run a prompt alone, into a cache made as the model's config says (a sliding window
        included): (its keys and values per layer, the float32 logits of what follows)."""
        from transformers import DynamicCache
        return self._run_prefix(ids, DynamicCache(config=self.model.config))

    def decode_step(self, batch, sequences: list) -> object:
        """One forward over the last token of every row of `batch` (a DecodeBatch, whose keys, values
        and mask it extends): the float32 logits of each row's next token, [rows, vocabulary]."""
        import torch
        from transformers import DynamicCache
        tokens = torch.tensor([[s.out[-1]] for s in sequences], device=self.device)
        positions = torch.tensor([[s.position] for s in sequences], device=self.device)
        mask = torch.cat([batch.mask, batch.mask.new_ones((len(sequences), 1))], dim=1)
        with self.forward(len(sequences)):
            cache = DynamicCache(ddp_cache_data=batch.layers, config=self.model.config)
            hidden = self.model.base_model(input_ids=tokens, position_ids=positions, attention_mask=mask,
                                           use_cache=True, **{self._cache_keyword: cache}).last_hidden_state
            logits = self.model.get_output_embeddings()(hidden[:, -1]).float()
        batch.layers, batch.mask = [(layer.keys, layer.values) for layer in cache.layers], mask
        return logits

    def generate(self, *, prompt=None, messages=None, max_new_tokens=64, temperature=0.0, top_p=1.0, seed=None):
        """A completion, generated in the running decode batch beside concurrent requests."""
        if messages is not None:
            ids = self.encode(self.chat(messages), special_tokens=False)
        else:
            ids = self.encode(prompt)
        window = self.generation_window
        if len(ids) + max_new_tokens > window:
            raise InputError(
                None, "max_new_tokens", f"prompt ({len(ids)} tokens) + max_new_tokens ({max_new_tokens}) exceeds "
                f"{self.name!r}'s window of {window} tokens",
                hint=f"At most {max(0, window - len(ids))} for this prompt.")
        cost = self.admit("generate", max_new_tokens, "max_new_tokens", unit="new token")
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        sequence = Sequence(ids, max_new_tokens, temperature if temperature > 0 else 0.0, top_p, seed,
                            self.tokenizer.eos_token_id)
        started = time.perf_counter()
        (sequence,) = self.batcher("generate", lambda: GenerationBatcher(self, self.batch_settings)).submit([sequence])
        completion = sequence.out
        cost.observe(1, len(completion), time.perf_counter() - started)
        stopped = bool(completion) and completion[-1] == self.tokenizer.eos_token_id
        return {
            "text": self.tokenizer.decode(completion, skip_special_tokens=True),
            "prompt_tokens": len(ids), "completion_tokens": len(completion),
            "finish_reason": "stop" if stopped else "length", "seed": seed,
        }
