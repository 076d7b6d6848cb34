"""What every case kind shares: its parsed spec, its attempts, and how they make a pass.

Threshold semantics, in one place:
- an attempt passes when every check of that attempt holds;
- a case's rule says how many of its attempts must pass: `pass: all` (the default), `majority` (more
  than half) or `any`; or `min_passes: N`; or `min_pass_fraction`, read to the percent as people
  write fractions: 0.67 is two thirds, so 2 of 3 attempts pass it (PassRule). Reports show the rule
  as a count: "needs 2 of 3";
- an attempt that could not be evaluated (the target answered 500, the service is missing an
  endpoint) is an error, neither a pass nor a failure. A case passes when its passed attempts meet
  the rule whatever the errored ones would have been, fails when they could not meet it even if
  every errored attempt had passed, and is an error otherwise: the errors left it undecided;
- pass^N: of a case's prompts asked N times (`repeats: N`), the share where every one of the N
  attempts passed, over the prompts the errors left decided (report.pass_hat);
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
    """One evaluation of a case: whether it held, why, and what was seen (replies, scores). An
    attempt that could not be evaluated has `error` set (and `passed` false): it is no failure."""
    passed: bool
    reason: str
    data: dict = field(default_factory=dict)
    error: bool = False

    @property
    def status(self) -> str:
        return "error" if self.error else "passed" if self.passed else "failed"

    def to_dict(self) -> dict:
        return {"passed": self.passed, "status": self.status, "reason": self.reason, **self.data}


# A fraction is compared to the percent: 0.67 and 0.66 both mean two thirds (2/3 = 0.6667).
FRACTION_TOLERANCE = 0.005


# `pass:` names for the common rules; "majority" is more than half (2 of 3, 3 of 4).
PASS_NAMES = ("all", "majority", "any")


@dataclass(frozen=True)
class PassRule:
    """How many of a case's attempts must pass: a named rule (`pass`), a count (`min_passes`), else a
    fraction."""
    fraction: float = 1.0
    count: int | None = None
    name: str | None = None   # one of PASS_NAMES

    def needed(self, attempts: int) -> int:
        if self.name == "majority":
            return attempts // 2 + 1
        if self.name == "any":
            return 1
        if self.count is not None:
            return self.count
        if self.fraction >= 1.0:
            return attempts  # 1.0 means every attempt, however many there are
        return next(k for k in range(attempts + 1) if k / attempts >= self.fraction - FRACTION_TOLERANCE)

    def holds(self, passed: int, attempts: int) -> bool:
        return attempts > 0 and passed >= self.needed(attempts)

    def describe(self, attempts: int) -> str:
        return (f"{self.name}: " if self.name else "") + f"needs {self.needed(attempts)} of {attempts}"


def parse_rule(spec: "Spec", default: PassRule) -> PassRule:
    """The rule a mapping gives with one of `pass`, `min_passes` or `min_pass_fraction`; `default`
    when it gives none."""
    given = [key for key in ("pass", "min_passes", "min_pass_fraction") if key in spec.data]
    if len(given) > 1:
        raise SuiteError(f"{spec.where}: give one of pass, min_passes or min_pass_fraction, not {' and '.join(given)}")
    if "pass" in given:
        name = spec.get("pass", str)
        if name not in PASS_NAMES:
            raise SuiteError(f"{spec.where}.pass: must be one of {', '.join(PASS_NAMES)}, got {name!r}")
        return PassRule(1.0 if name == "all" else 0.0, None, name)
    if "min_passes" in given:
        return PassRule(1.0, spec.positive("min_passes", 1))
    if "min_pass_fraction" in given:
        return PassRule(spec.fraction("min_pass_fraction", 1.0))
    spec.used.update(("pass", "min_passes", "min_pass_fraction"))
    return default


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
    repeats: int = 1
    pass_hat: tuple[int, int, int] | None = None  # (prompts all of whose repeats passed, decided, asked)

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
                "min_passes": self.rule.count, "pass": self.rule.name,
                "needs": self.rule.describe(len(self.attempts)) if self.attempts else None,
                "required": self.required, "seconds": round(self.seconds, 3),
                **({"repeats": self.repeats} if self.repeats > 1 else {}),
                **({"pass_hat": dict(zip(("all_passed", "decided", "prompts"), self.pass_hat))} if self.pass_hat else {}),
                **self.extra,
                "attempts": [attempt.to_dict() for attempt in self.attempts]}


def verdict(attempts: list[Attempt], rule: PassRule) -> tuple[str, str]:
    """The case status and a one-line message from its attempts: passed when the passed attempts
    meet the rule, failed when they could not even if every errored attempt had passed, else error."""
    passed, errors = sum(a.passed for a in attempts), sum(a.error for a in attempts)
    if rule.count is not None and rule.count > len(attempts):
        raise CaseError(f"min_passes {rule.count} is more than the {len(attempts)} attempts this case makes")
    if rule.holds(passed, len(attempts)):
        status = "passed"
    elif not rule.holds(passed + errors, len(attempts)):
        status = "failed"
    else:
        status = "error"
    summary = f"{passed}/{len(attempts)} attempts passed ({rule.describe(len(attempts))})"
    if errors:
        summary += f", {errors} errored" + ("; the errors leave it undecided" if status == "error" else "")
    failures = [a.reason for a in attempts if not a.passed and not a.error]
    if status == "error":
        return status, f"{summary}; first error: {next(a.reason for a in attempts if a.error)}"
    return status, summary if not failures else f"{summary}; first failure: {failures[0]}"


def pass_hat(groups: list[list[Attempt]]) -> tuple[int, int]:
    """(prompts whose every repeat passed, prompts decided) over groups of one prompt's repeats: a
    group with a failure is decided (not every repeat passed) whatever its errors; one with errors
    and no failure is not."""
    decided = [group for group in groups if any(not a.passed and not a.error for a in group)
               or not any(a.error for a in group)]
    return sum(all(a.passed for a in group) for group in decided), len(decided)


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
        self.rule = parse_rule(spec, defaults.get("rule", PassRule()))
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
        """Every attempt, a prompt's `repeats` next to each other (see repeat_groups)."""
        raise NotImplementedError

    @staticmethod
    def trial(run) -> Attempt:
        """run()'s attempt, or an errored one when it raised CaseError: the case's other attempts go on."""
        try:
            return run()
        except CaseError as exc:
            return Attempt(False, str(exc), error=True)

    def repeat_groups(self, attempts: list[Attempt]) -> list[list[Attempt]]:
        """The attempts in groups of one prompt's repeats (for pass^N); none when repeats is 1."""
        if self.repeats < 2:
            return []
        return [attempts[i:i + self.repeats] for i in range(0, len(attempts), self.repeats)]
