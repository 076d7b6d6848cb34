"""Dynamic batching with backpressure, one Batcher per model and kind of work.

Concurrent requests put their items on a bounded queue; one thread per batcher gathers up to
max_batch_size items (waiting at most max_wait_ms after the oldest arrived, and with max_gap_ms set,
no longer than that after the newest: arrivals that pause end the wait), runs them as one
forward pass and hands each request its own results. Items of similar length run together to limit
padding, the oldest item always in the next batch (no starvation). A request larger than
max_batch_size is split across batches. A full queue answers 429 at once; a request that waits
longer than its timeout gets 504 and its items are dropped.

With batching off (deterministic mode), each batch holds items of one request only, so a score
never depends on what other requests were doing; queue bound and timeout still apply.

Batches run on the process's compute thread (service/compute.py), not on the batcher's own.

Before a request's items are queued, its work is estimated with the batcher's cost model (see
service.admission) and refused at once when it is over the limit a request may take.
"""
import math
import threading
import time
from dataclasses import dataclass, field

from .admission import CostModel, batches_of
from .compute import COMPUTE
from .config import DEFAULTS
from .errors import ModelUnavailable, Overloaded, Timeout
from .observability import QUEUE_DEPTH, QUEUE_DURATION

# How many batches' worth of waiting items are sorted by length to pick the next batch from.
GROUPING_WINDOW = 4


@dataclass(eq=False)
class _Request:
    size: int
    results: list = field(default_factory=list)
    remaining: int = 0
    error: BaseException | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.results = [None] * self.size
        self.remaining = self.size


@dataclass(eq=False)
class _Item:
    payload: object
    length: int
    enqueued: float
    request: _Request
    index: int


DEFAULT_MAX_BATCH_SIZE = 8  # a profile's options.max_batch_size, when it gives none


@dataclass
class BatchSettings:
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    # The service's defaults (service/config.py), one home for each; a profile or AIQA_* overrides them.
    max_wait_ms: float = DEFAULTS["MAX_WAIT_MS"]
    max_gap_ms: float = DEFAULTS["MAX_GAP_MS"]  # above 0: stop waiting once no item has arrived for this long
    max_queue: int = DEFAULTS["MAX_QUEUE"]
    timeout_s: float = DEFAULTS["REQUEST_TIMEOUT_S"]
    merge: bool = True  # False: never put two requests in one batch
    max_work_s: float | None = None  # refuse work estimated over this (None: timeout_s)

    @property
    def work_limit_s(self) -> float:
        return self.max_work_s or self.timeout_s


class Batcher:
    def __init__(self, model_name: str, fn, settings: BatchSettings, length=len, is_oom=None,
                 cost: CostModel | None = None):
        self.model_name = model_name
        self.cost = cost
        self.fn = fn
        self.settings = settings
        self.length = length
        self.is_oom = is_oom or (lambda exc: False)
        self._pending: list[_Item] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- request side ----------------------------------------------------------------------------
    def submit(self, payloads: list, units: list[int] | None = None, batches: int | None = None) -> list:
        """Run payloads through fn in batches; return their results in order. `units`: each payload's
        work in the cost model's unit (default: its length); `batches`: the batches the cost model
        charges for (default: as many as max_batch_size makes)."""
        request = _Request(len(payloads))
        if not payloads:
            return []
        work = sum(units) if units is not None else sum(map(self.length, payloads))
        batches = batches or batches_of(len(payloads), self.settings.max_batch_size)
        if self.cost is not None:
            self.cost.admit(batches, work, self.settings.work_limit_s)
        started = time.perf_counter()
        with self._cond:
            # A request larger than the whole queue is still admitted when the queue is empty,
            # else it could never run.
            if self._pending and len(self._pending) + len(payloads) > self.settings.max_queue:
                raise Overloaded(
                    f"model {self.model_name!r} has {len(self._pending)} items queued (limit "
                    f"{self.settings.max_queue}); retry later", retry_after=self._retry_after())
            now = time.monotonic()
            self._pending.extend(_Item(p, self.length(p), now, request, i) for i, p in enumerate(payloads))
            self._publish_depth()
            self._ensure_thread()
            self._cond.notify_all()
        if not request.done.wait(self.settings.timeout_s):
            self._drop(request)
            raise Timeout(f"model {self.model_name!r} did not answer within {self.settings.timeout_s:g} s; "
                          "the work was dropped")
        if request.error is not None:
            raise request.error
        if self.cost is not None:
            self.cost.observe(batches, work, time.perf_counter() - started)
        return request.results

    def _retry_after(self) -> int:
        return max(1, math.ceil(len(self._pending) / max(1, self.settings.max_batch_size) * 0.1))

    def _drop(self, request: _Request) -> None:
        with self._cond:
            request.cancelled = True
            self._pending = [item for item in self._pending if item.request is not request]
            self._publish_depth()

    def _publish_depth(self) -> None:
        QUEUE_DEPTH.labels(self.model_name).set(len(self._pending))

    def _ensure_thread(self) -> None:
        # Started on first use, so it is born in the worker process, never before a fork.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"batcher-{self.model_name}", daemon=True)
            self._thread.start()

    # -- batching side ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            started = time.monotonic()
            for item in batch:
                QUEUE_DURATION.labels(self.model_name).observe(started - item.enqueued)
            self._deliver(batch, self._run([item.payload for item in batch]))

    def _next_batch(self) -> list[_Item]:
        settings = self.settings
        with self._cond:
            while not self._pending:
                self._cond.wait()
            if settings.merge:
                deadline = self._pending[0].enqueued + settings.max_wait_ms / 1000
                while len(self._pending) < settings.max_batch_size:
                    until = deadline
                    if settings.max_gap_ms > 0:
                        until = min(deadline, self._pending[-1].enqueued + settings.max_gap_ms / 1000)
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._choose(self._pending[:settings.max_batch_size * GROUPING_WINDOW])
            else:
                first = self._pending[0].request
                batch = [item for item in self._pending if item.request is first][:settings.max_batch_size]
            chosen = set(map(id, batch))
            self._pending = [item for item in self._pending if id(item) not in chosen]
            self._publish_depth()
            return batch

    def _choose(self, window: list[_Item]) -> list[_Item]:
        """The run of max_batch_size similar-length items that contains the oldest item."""
        size = self.settings.max_batch_size
        if len(window) <= size:
            return window
        ordered = sorted(window, key=lambda item: item.length)
        at = ordered.index(window[0])
        start = min(max(0, at - size // 2), len(ordered) - size)
        return ordered[start:start + size]

    def _run(self, payloads: list) -> list:
        """fn over payloads; on out-of-memory split the batch in halves and retry. Per-item
        results, or the exception for the items that failed."""
        try:
            return COMPUTE.run(lambda: list(self.fn(payloads)))
        except Exception as exc:
            if not self.is_oom(exc):
                return [exc] * len(payloads)
            if len(payloads) == 1:
                return [ModelUnavailable(f"one input does not fit in {self.model_name!r}'s device memory; "
                                         "send a shorter input")]
            middle = len(payloads) // 2
            return self._run(payloads[:middle]) + self._run(payloads[middle:])

    def _deliver(self, batch: list[_Item], outputs: list) -> None:
        for item, output in zip(batch, outputs):
            request = item.request
            if isinstance(output, BaseException):
                request.error = output
            else:
                request.results[item.index] = output
            request.remaining -= 1
            if request.remaining == 0 or request.error is not None:
                request.done.set()
