"""Text generation with iteration-level (continuous) batching, as vLLM and TGI schedule it.

Every running generation of a model is a row of one decode batch. Each step runs one forward pass
over the last token of every row; a request joins the running batch at the next step (its prompt
is run alone first, the prefill, and its keys and values are added to the batch) and leaves it when
it stops (its stop token, or max_new_tokens), so a short generation never waits for a long one to
finish, and concurrent generations share their forward passes.

The batch's keys and values are padded on the left to one width: a row's padding is masked out of
attention, and each row's tokens are given their own positions, so a row reads exactly what it would
read alone. Every row chooses its next token with its own settings and its own random generator
(seeded from the request's seed): greedy text, and sampled text with a seed, are the same whether a
request ran alone or beside others, and the same as transformers' `generate` gives (both tested).
What is not promised is the last bits of the logits: on the CPU a matrix product of eight rows may
round differently from one of a single row, which could only change a greedy choice between two
tokens whose logits tie to ~1e-6.

The scheduler is a Batcher (service.batching) with its own loop: the same bounded queue (429), the
same timeout (504; a timed-out generation leaves the batch at the next step), the same queue and
batch metrics (the batch size of a step is its rows). At most max_generation_rows rows run at once
(default twice max_batch_size), and at most max_tokens_in_flight tokens (each row's prompt plus its
max_new_tokens: what its keys and values may grow to; default a full window per row); a request
that would pass either waits in the queue, oldest first, for rows to finish. With batching off
(deterministic mode) one generation runs at a time.
"""
import time
from dataclasses import dataclass, field

from ..batching import Batcher, BatchSettings, _Item
from ..compute import COMPUTE
from ..errors import ModelUnavailable
from ..observability import QUEUE_DURATION
from .base import is_out_of_memory


@dataclass(eq=False)
class Sequence:
    """One generation: its prompt, its settings, and what it has generated so far."""

    ids: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop_id: int | None
    out: list[int] = field(default_factory=list)
    _generator: object = None
    _warpers: list = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Its share of the tokens in flight: the length its keys and values may grow to."""
        return len(self.ids) + self.max_new_tokens

    @property
    def position(self) -> int:
        """The position of its last chosen token, the one the next step reads (never yet decoded)."""
        return len(self.ids) + len(self.out) - 1

    @property
    def done(self) -> bool:
        return len(self.out) >= self.max_new_tokens or (bool(self.out) and self.out[-1] == self.stop_id)

    def choose(self, logits) -> int:
        """The next token from this row's logits (float32, [vocabulary]): the largest when greedy, else
        a draw from the temperature- and top-p-shaped distribution with this sequence's own generator,
        the way transformers' `generate` draws with the global one seeded alike."""
        import torch
        if self.temperature <= 0:
            token = int(logits.argmax())
        else:
            if self._generator is None:
                from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper
                self._generator = torch.Generator(device=logits.device).manual_seed(self.seed)
                self._warpers = [TemperatureLogitsWarper(self.temperature)]
                if self.top_p < 1.0:
                    self._warpers.append(TopPLogitsWarper(self.top_p))
            scores = logits[None]
            for warper in self._warpers:
                scores = warper(None, scores)
            probabilities = torch.nn.functional.softmax(scores, dim=-1)
            token = int(torch.multinomial(probabilities, num_samples=1, generator=self._generator)[0, 0])
        self.out.append(token)
        return token


class DecodeBatch:
    """The running rows of a transformers model: their keys and values (per layer, [rows, heads,
    width, head size]), left-padded to one width, and the mask of their real positions ([rows, width]).

    What the scheduler asks of a backend's batch (service/models/llama_backend.py has the other):
    `rows`, `tokens`, `len()`, `join(item)` (prefill, then add: the logits of the row's first new
    token), `step()` (the logits of every row's next token) and `keep(rows)`."""

    def __init__(self, lm=None):
        self.lm = lm
        self.rows: list[_Item] = []
        self.layers: list | None = None
        self.mask = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def tokens(self) -> int:
        return sum(item.payload.tokens for item in self.rows)

    def join(self, item: _Item):
        """Run a row's prompt alone (the prefill) and add it: the float32 logits of what follows."""
        layers, logits = self.lm.prefill(item.payload.ids)
        self.add(item, layers)
        return logits

    def step(self):
        """One forward over the last token of every row: their next tokens' logits, [rows, vocabulary]."""
        return self.lm.decode_step(self, [item.payload for item in self.rows])

    def add(self, item: _Item, layers: list) -> None:
        """Add a prefilled row (its keys and values per layer, one row wide, no padding)."""
        import torch
        import torch.nn.functional as F
        width = layers[0][0].shape[2]
        mask = torch.ones((1, width), dtype=torch.long, device=layers[0][0].device)
        if not self.rows:
            self.rows, self.layers, self.mask = [item], layers, mask
            return
        common = max(width, self.mask.shape[1])

        def pad(tensor, dim_from_end: int):
            missing = common - tensor.shape[-dim_from_end]
            if not missing:
                return tensor
            return F.pad(tensor, (0, 0) * (dim_from_end - 1) + (missing, 0))

        self.layers = [(torch.cat([pad(k, 2), pad(nk, 2)]), torch.cat([pad(v, 2), pad(nv, 2)]))
                       for (k, v), (nk, nv) in zip(self.layers, layers)]
        self.mask = torch.cat([pad(self.mask, 1), pad(mask, 1)])
        self.rows.append(item)

    def keep(self, keep: list[int]) -> None:
        """Keep these rows, in this order; drop the columns that are padding in every row left."""
        import torch
        if not keep:
            self.rows, self.layers, self.mask = [], None, None
            return
        if len(keep) == len(self.rows):
            return
        index = torch.tensor(keep, device=self.mask.device)
        mask = self.mask[index]
        start = int((mask.sum(0) == 0).long().cumprod(0).sum())  # leading columns padded in every row
        self.mask = mask[:, start:]
        self.layers = [(k[index][:, :, start:], v[index][:, :, start:]) for k, v in self.layers]
        self.rows = [self.rows[i] for i in keep]


class GenerationBatcher(Batcher):
    """A Batcher whose loop runs decode steps over the running rows; see the module's docstring.

    `lm` is the causal LM (decode_batch(), max_generation_rows, max_tokens_in_flight); its payloads
    are Sequences."""

    def __init__(self, lm, settings: BatchSettings):
        super().__init__(lm.name, None, settings, length=lambda sequence: sequence.tokens, is_oom=is_out_of_memory)
        self.lm = lm
        self.batch = lm.decode_batch()

    def _loop(self) -> None:
        while True:
            joining = self._joining()
            # Every tensor operation of an iteration (prefill, padding the batch, dropping rows, the
            # step, sampling) on the compute thread: one on this thread would give it an OpenMP team
            # of its own (service/compute.py).
            COMPUTE.run(lambda: self._iteration(joining))

    def _iteration(self, joining: list[_Item]) -> None:
        try:
            for item in joining:
                self._prefill(item)
            self._leave()
            if len(self.batch):
                self._step()
        except Exception as exc:  # in the batch's own bookkeeping: no request is left to its timeout
            waiting = [item for item in [*self.batch.rows, *joining] if not item.request.done.is_set()]
            self._deliver(waiting, self._failure(exc) * len(waiting))
            try:
                self.batch.keep([])
            except Exception:
                self.batch = self.lm.decode_batch()

    def _joining(self) -> list[_Item]:
        """The queued generations that join now: the oldest first, while the rows and the tokens in
        flight allow (one alone always may); waits for work while nothing runs."""
        with self._cond:
            while not self._pending and not len(self.batch):
                self._cond.wait()
            rows, tokens, joining = len(self.batch), self.batch.tokens, []
            for item in self._pending:
                fits = rows < self.lm.max_generation_rows and tokens + item.length <= self.lm.max_tokens_in_flight
                if rows and not fits:
                    break
                joining.append(item)
                rows, tokens = rows + 1, tokens + item.length
            if joining:
                self._pending = self._pending[len(joining):]
                self._publish_depth()
            return joining

    def _prefill(self, item: _Item) -> None:
        QUEUE_DURATION.labels(self.model_name).observe(time.monotonic() - item.enqueued)
        if item.request.cancelled:
            return
        sequence = item.payload
        try:
            logits = self.batch.join(item)
        except Exception as exc:
            self._deliver([item], self._failure(exc))
            return
        try:
            sequence.choose(logits)
        except Exception as exc:
            self.batch.keep(list(range(len(self.batch) - 1)))
            self._deliver([item], self._failure(exc))

    def _leave(self) -> None:
        """Rows that are done answer; rows whose request timed out are dropped."""
        keep = []
        for row, item in enumerate(self.batch.rows):
            if item.request.cancelled:
                continue
            if item.payload.done:
                self._deliver([item], [item.payload])
            else:
                keep.append(row)
        self.batch.keep(keep)

    def _step(self) -> None:
        rows = self.batch.rows
        try:
            logits = self.batch.step()
            for row, item in enumerate(rows):
                item.payload.choose(logits[row])
        except Exception as exc:
            self._deliver(rows, self._failure(exc) * len(rows))
            self.batch.keep([])

    def _failure(self, exc: Exception) -> list:
        if self.is_oom(exc):
            return [ModelUnavailable(f"the running generations do not fit in {self.model_name!r}'s device memory; "
                                     "retry, or ask for fewer new tokens")]
        return [exc]
