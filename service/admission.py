"""Admission by cost: a request's work is estimated before it is queued, and refused at once when it
cannot finish within the time a request may take.

Each kind of work a model does (the work behind one of its batchers, a generation, an image run) has
a CostModel in units that track its compute: tokens through the network for the text kinds (for
zero-shot, each input's prompt once per label; for perplexity, every window's tokens), new tokens
for generation, denoising steps x pixels x images for text-to-image. Its seconds are

    seconds = seconds_per_batch x batches + seconds_per_unit x units

fitted by least squares to calls timed at warm-up, at a small and a large size (the smallest of
three timings of each: interference only ever slows a call down, so a busy moment at start-up does
not inflate the rates), the per-batch part never more than the fastest batch was in all. The rates
are then fixed: a score must not depend on what traffic ran before it, nor may admission.

A request whose estimate exceeds the limit (AIQA_MAX_WORK_S, by default AIQA_REQUEST_TIMEOUT_S) is
refused with OverBudget before any of its work is queued; everything under it runs as before. A kind
never timed (no warm-up for it) admits everything. Standard library only.
"""
import math
import threading
import time
from contextlib import contextmanager

from .contract import OverBudget

# Per-unit rates are shown and compared in seconds; the smallest rate kept, so a fit on a very fast
# device never divides by zero.
MIN_RATE_S = 1e-9


class CostModel:
    """The fitted cost of one kind of work: unit, seconds per batch and per unit."""

    def __init__(self, model_name: str, kind: str, unit: str):
        self.model_name, self.kind, self.unit = model_name, kind, unit
        self.seconds_per_batch: float | None = None
        self.seconds_per_unit: float | None = None
        self._timings: dict[tuple[int, int], float] = {}  # (batches, units) -> smallest seconds seen
        self._calibrating = False
        self._lock = threading.Lock()

    @property
    def fitted(self) -> bool:
        return self.seconds_per_unit is not None

    # -- warm-up -------------------------------------------------------------------------------
    @contextmanager
    def calibrating(self):
        """Within this block every timed call is kept; after it the rates are fitted and fixed."""
        self._calibrating = True
        try:
            yield self
        finally:
            self._calibrating = False
            self.fit()

    def observe(self, batches: int, units: int, seconds: float) -> None:
        if not self._calibrating or units <= 0:
            return
        with self._lock:
            key = (batches, units)
            self._timings[key] = min(seconds, self._timings.get(key, math.inf))

    @contextmanager
    def timed(self, batches: int, units: int):
        started = time.perf_counter()
        yield
        self.observe(batches, units, time.perf_counter() - started)

    def fit(self) -> None:
        """Least squares of seconds on (batches, units) without intercept; with one timing only (or
        rates that come out negative), all of it is charged per unit."""
        points = [(b, u, t) for (b, u), t in self._timings.items()]
        if not points:
            return
        sbb = sum(b * b for b, _, _ in points)
        suu = sum(u * u for _, u, _ in points)
        sbu = sum(b * u for b, u, _ in points)
        sbt = sum(b * t for b, _, t in points)
        sut = sum(u * t for _, u, t in points)
        det = sbb * suu - sbu * sbu
        per_batch = per_unit = -1.0
        if len(points) > 1 and det > 0:
            per_batch = (sbt * suu - sut * sbu) / det
            per_unit = (sut * sbb - sbt * sbu) / det
        if per_batch < 0 or per_unit <= 0:
            per_batch, per_unit = 0.0, max(sut / suu, MIN_RATE_S)
        # A batch's fixed part cannot be more than the fastest batch took in all; what the cap takes
        # off the fixed part is charged per unit, through the largest timing.
        fastest = min(t / b for b, _, t in points)
        if per_batch > fastest:
            b, u, t = max(points, key=lambda point: point[1])
            per_batch, per_unit = fastest, max((t - fastest * b) / u, MIN_RATE_S)
        self.seconds_per_batch, self.seconds_per_unit = per_batch, max(per_unit, MIN_RATE_S)

    # -- requests ------------------------------------------------------------------------------
    def estimate(self, batches: int, units: int) -> float | None:
        if not self.fitted:
            return None
        return self.seconds_per_batch * batches + self.seconds_per_unit * units

    def admit(self, batches: int, units: int, limit_s: float | None, field: str = "inputs") -> None:
        """Raise OverBudget when the estimate for this work is over `limit_s`."""
        estimate = self.estimate(batches, units)
        if estimate is None or limit_s is None or estimate <= limit_s:
            return
        raise OverBudget(
            field, f"this request's work is estimated at {estimate:.3g} s ({units} {self.unit}s in {batches} "
            f"batch(es) of {self.model_name!r}), over the limit of {limit_s:g} s a request may take: ask for less",
            hint=f"Estimated at {estimate:.3g} s of work; a request may take at most {limit_s:g} s.",
            estimate_s=estimate, limit_s=limit_s, units=units, unit=self.unit)

    def max_units(self, batches: int, limit_s: float) -> int:
        """The most units work of `batches` batches may have within `limit_s`."""
        return max(0, math.floor((limit_s - self.seconds_per_batch * batches) / self.seconds_per_unit))

    def describe(self, limit_s: float | None) -> dict:
        info = {"unit": self.unit, "seconds_per_batch": self.seconds_per_batch,
                "seconds_per_unit": self.seconds_per_unit}
        if self.fitted and limit_s is not None:
            info["max_units"] = self.max_units(1, limit_s)
        return info


def batches_of(items: int, max_batch_size: int) -> int:
    return max(1, math.ceil(items / max(1, max_batch_size)))
