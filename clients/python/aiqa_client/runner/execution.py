"""Run a suite: each case in order, with live progress; the scoring service through aiqa_client.

A target or scoring service that cannot be reached stops the run (Unreachable, exit 2): every later
case would fail for the same reason, and the message names which one it was.
"""
import datetime
import json
import time
from dataclasses import dataclass, field

from ..client import Client
from ..comparison import wilson_interval
from ..errors import AiqaError, ConnectionFailed, NotFound
from .base import CaseError, CaseResult, pass_hat, verdict
from .suite import Suite
from .targets import TargetUnreachable

# A scoring call on two CPU cores: similarity is quick, zero-shot classification on SmolLM2 is not.
SERVICE_SECONDS_PER_CALL = 0.5


class ServiceUnreachable(RuntimeError):
    """The aiqa scoring service did not answer at its address."""


Unreachable = (TargetUnreachable, ServiceUnreachable)


class Context:
    """What a case runs against: the target, the scoring service, the canary; counts the calls."""

    def __init__(self, suite: Suite, on_call=None, cache=None):
        self.suite, self.target, self.canary, self.refusal = suite, suite.target, suite.canary, suite.refusal
        self.cache = cache  # a runner.cache.ReplyCache, or None
        self.service = Client(suite.service_url, api_key=suite.service_api_key, timeout=120) if suite.service_url else None
        self.on_call = on_call or (lambda seconds: None)

    def reply(self, message: str, system: str | None = None) -> str:
        system = self.target.system if system is None else system
        return self._call(message, system, lambda: self.target.reply(message, system))

    def converse(self, turns: list[str], system: str | None = None) -> list[str]:
        """One conversation: each user turn sent with every turn and reply before it; the replies."""
        system = self.target.system if system is None else system
        messages, replies = ([{"role": "system", "content": system}] if system else []), []
        for turn in turns:
            messages.append({"role": "user", "content": turn})
            text = self._call(json.dumps(messages), None, lambda: self.target.chat(messages))
            messages.append({"role": "assistant", "content": text})
            replies.append(text)
        return replies

    def _call(self, message: str, system: str | None, call) -> str:
        """call()'s reply, timed for progress; from the cache, and kept there, when there is one."""
        key = self.cache.key(message, system) if self.cache else None
        if key and (kept := self.cache.get(key)) is not None:
            self.on_call(0.0)
            return kept
        started = time.perf_counter()
        text = call()
        self.on_call(time.perf_counter() - started)
        if key:
            self.cache.put(key, text)  # only a reply: a failed call raised before this
        return text

    def scoring(self, what: str, call):
        """Run `call(client)` on the scoring service; its errors become the case's error."""
        if self.service is None:
            raise CaseError(f"{what} needs the aiqa scoring service: set service.url in the suite")
        try:
            return call(self.service)
        except ConnectionFailed as exc:
            raise ServiceUnreachable(f"scoring service {self.service.base_url} is unreachable: {exc}") from exc
        except AiqaError as exc:
            raise CaseError(f"scoring service, {what}: {exc}") from exc

    def metric(self, name: str, predictions: list, references: list):
        """A metric from the service's /v1/metrics/{name}; never computed locally behind its back."""
        try:
            return self.scoring(name, lambda s: s.metric(name, predictions, references))
        except CaseError as exc:
            if isinstance(exc.__cause__, NotFound):
                raise CaseError(f"{name} check: the scoring service at {self.service.base_url} has no "
                                f"/v1/metrics/{name} endpoint ({exc.__cause__.status}); {name} needs aiqa's "
                                "metrics endpoints") from exc.__cause__
            raise

    def close(self) -> None:
        self.target.close()
        if self.service is not None:
            self.service.close()


@dataclass
class SuiteResult:
    suite: Suite
    cases: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0
    started_at: datetime.datetime | None = None

    @property
    def decided(self) -> int:
        """Cases that passed or failed: an error is neither (the store and the comparison count alike)."""
        return self.count("passed") + self.count("failed")

    @property
    def pass_rate(self) -> float:
        """Passed cases of the decided ones; 0 when none was decided."""
        return self.count("passed") / self.decided if self.decided else 0.0

    @property
    def errors_over_budget(self) -> bool:
        return self.count("error") > self.suite.max_errors

    @property
    def failed_required(self) -> list[str]:
        return [c.id for c in self.cases if c.required and not c.passed]

    @property
    def gated_rate(self) -> float:
        """What the threshold is held to: the pass rate, or with `gate: lower_bound` its Wilson 95% lower
        bound (so a suite passes only when the evidence shows the rate reaches the threshold)."""
        if self.suite.gate == "lower_bound":
            interval = wilson_interval(self.count("passed"), self.decided)
            return interval[0] if interval else 0.0
        return self.pass_rate

    @property
    def passed(self) -> bool:
        """The thresholds held: the (gated) pass rate of the decided cases, every required case passed,
        and no more errors than thresholds.max_errors (a suite of errors only decides nothing)."""
        return (self.decided > 0 and self.gated_rate >= self.suite.pass_rate - 1e-9 and not self.failed_required
                and not self.errors_over_budget)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.cases)


def run_case(case, ctx: Context) -> CaseResult:
    started = time.perf_counter()
    try:
        attempts = case.attempts(ctx)
        status, message = verdict(attempts, case.rule)
    except CaseError as exc:
        attempts, status, message = [], "error", str(exc)
    groups = case.repeat_groups(attempts)
    return CaseResult(case.id, case.kind, status, attempts, case.rule, case.required,
                      time.perf_counter() - started, message, case.report_fields(), case.repeats,
                      (*pass_hat(groups), len(groups)) if groups else None)


def run_suite(suite: Suite, progress, cache=None) -> SuiteResult:
    """Every case in order; raises TargetUnreachable or ServiceUnreachable to stop the run. `cache`: a
    ReplyCache for the target's replies (runner/cache.py)."""
    ctx = Context(suite, on_call=progress.call_done, cache=cache)
    result, started = SuiteResult(suite), time.perf_counter()
    result.started_at = datetime.datetime.now(datetime.timezone.utc)
    try:
        for index, case in enumerate(suite.cases):
            progress.case_started(index, case)
            result.cases.append(run_case(case, ctx))
            progress.case_finished(index, result.cases[-1])
    finally:
        ctx.close()
        result.seconds = time.perf_counter() - started
    return result


def estimate(suite: Suite) -> dict:
    """Calls per case and in all, and the seconds they should take (before any call is made)."""
    per_case = {case.id: dict(zip(("target_calls", "service_calls"), case.calls())) for case in suite.cases}
    target_calls = sum(c["target_calls"] for c in per_case.values())
    service_calls = sum(c["service_calls"] for c in per_case.values())
    seconds = target_calls * suite.target.seconds_per_call + service_calls * SERVICE_SECONDS_PER_CALL
    return {"cases": per_case, "target_calls": target_calls, "service_calls": service_calls,
            "seconds_per_target_call": suite.target.seconds_per_call, "estimated_seconds": seconds}
