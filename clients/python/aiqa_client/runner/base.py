"""What every case kind shares: its parsed spec, its attempts, and how they make a pass.

Threshold semantics, in one place:
- an attempt passes when every check of that attempt holds;
- a case passes when at least `min_passes` of its attempts pass, or else passed / attempts reaches
  its `min_pass_fraction` (default 1.0: all), read to the percent as people write fractions: 0.67
  is two thirds, so 2 of 3 attempts pass it (PassRule). Reports show the rule as a count: "needs 2 of 3";
- a case that cannot be evaluated (target error, missing service endpoint) is an error, not a pass;
- the suite passes when passed cases / decided cases (passed or failed; an error is neither) >=
  thresholds.pass_rate (default 1.0), every case marked `required: true` passed, and no more cases
  errored than thresholds.max_errors (default 0).
"""
from dataclasses import dataclass, field


class SuiteError(ValueError):
    """The suite file is broken: unreadable, invalid YAML, unknown keys or invalid values (exit 2)."""


class CaseError(RuntimeError):
    """A case could not be evaluated, e.g. the target answered 500 or a service endpoint is missing."""


@dataclass
class Attempt:
    """One evaluation of a case: whether it held, why, and what was seen (replies, scores)."""
    passed: bool
    reason: str
    data: dict = field(default_factory=dict)


# A fraction is compared to the percent: 0.67 and 0.66 both mean two thirds (2/3 = 0.6667).
FRACTION_TOLERANCE = 0.005


@dataclass(frozen=True)
class PassRule:
    """How many of a case's attempts must pass: a count (`min_passes`), else a fraction."""
    fraction: float = 1.0
    count: int | None = None

    def needed(self, attempts: int) -> int:
        if self.count is not None:
            return self.count
        if self.fraction >= 1.0:
            return attempts  # 1.0 means every attempt, however many there are
        return next(k for k in range(attempts + 1) if k / attempts >= self.fraction - FRACTION_TOLERANCE)

    def holds(self, passed: int, attempts: int) -> bool:
        return attempts > 0 and passed >= self.needed(attempts)

    def describe(self, attempts: int) -> str:
        return f"needs {self.needed(attempts)} of {attempts}"


@dataclass
class CaseResult:
    id: str
    kind: str
    status: str                       # passed | failed | error
    attempts: list[Attempt]
    rule: PassRule
    required: bool
    seconds: float
    message: str = ""
    extra: dict = field(default_factory=dict)   # what the case kind adds (an adversarial case: pack, owasp)

    @property
    def min_pass_fraction(self) -> float:
        return self.rule.fraction

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def pass_fraction(self) -> float:
        return sum(a.passed for a in self.attempts) / len(self.attempts) if self.attempts else 0.0

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.kind, "status": self.status, "message": self.message,
                "pass_fraction": self.pass_fraction, "min_pass_fraction": self.rule.fraction,
                "min_passes": self.rule.count,
                "needs": self.rule.describe(len(self.attempts)) if self.attempts else None,
                "required": self.required, "seconds": round(self.seconds, 3),
                **self.extra,
                "attempts": [{"passed": a.passed, "reason": a.reason, **a.data} for a in self.attempts]}


def verdict(attempts: list[Attempt], rule: PassRule) -> tuple[str, str]:
    """The case status and a one-line message from its attempts."""
    passed = sum(a.passed for a in attempts)
    if rule.count is not None and rule.count > len(attempts):
        raise CaseError(f"min_passes {rule.count} is more than the {len(attempts)} attempts this case makes")
    status = "passed" if rule.holds(passed, len(attempts)) else "failed"
    failures = [a.reason for a in attempts if not a.passed]
    summary = f"{passed}/{len(attempts)} attempts passed ({rule.describe(len(attempts))})"
    return status, summary if not failures else f"{summary}; first failure: {failures[0]}"


class Spec:
    """Reads one mapping of a suite file, naming the offending path in every error."""

    def __init__(self, data, where: str):
        if not isinstance(data, dict):
            raise SuiteError(f"{where}: must be a mapping, got {type(data).__name__}")
        self.data, self.where, self.used = data, where, set()

    def get(self, key: str, kind, default=None, *, required: bool = False):
        self.used.add(key)
        if key not in self.data:
            if required:
                raise SuiteError(f"{self.where}: missing required key {key!r}")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise SuiteError(f"{self.where}.{key}: must be {names}, got {value!r}")
        return value

    def fraction(self, key: str, default: float) -> float:
        value = self.get(key, float, default)
        if not 0.0 <= value <= 1.0:
            raise SuiteError(f"{self.where}.{key}: must be between 0 and 1, got {value}")
        return value

    def positive(self, key: str, default: int) -> int:
        value = self.get(key, int, default)
        if value < 1:
            raise SuiteError(f"{self.where}.{key}: must be at least 1, got {value}")
        return value

    def done(self) -> None:
        """Reject keys nobody read: a typo must not silently disable a check."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise SuiteError(f"{self.where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(sorted(self.used))}")


class Case:
    """A parsed case. Subclasses read their own keys, count their calls and produce attempts."""
    kind = ""

    def __init__(self, spec: Spec, defaults: dict):
        spec.get("type", str)
        self.id = spec.get("id", str, required=True)
        self.description = spec.get("description", str, "")
        self.repeats = spec.positive("repeats", defaults.get("repeats", 1))
        if "min_passes" in spec.data and "min_pass_fraction" in spec.data:
            raise SuiteError(f"{spec.where}: give min_passes or min_pass_fraction, not both")
        fraction = spec.fraction("min_pass_fraction", defaults.get("min_pass_fraction", 1.0))
        count = spec.positive("min_passes", 1) if "min_passes" in spec.data else None
        if count is None and "min_pass_fraction" not in spec.data:
            count = defaults.get("min_passes")
        self.rule = PassRule(fraction, count)
        self.required = spec.get("required", bool, False)

    @property
    def uses_service(self) -> bool:
        return False

    def report_fields(self) -> dict:
        """What the report says of this case besides its attempts (kinds add to it)."""
        return {}

    def calls(self) -> tuple[int, int]:
        """(calls to the target, calls to the scoring service at most) this case makes."""
        raise NotImplementedError

    def attempts(self, ctx) -> list[Attempt]:
        raise NotImplementedError
