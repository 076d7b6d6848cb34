"""A suite file: the target chatbot, the scoring service, thresholds, defaults and cases.

    name: smoke
    target: {type: aiqa, url: http://127.0.0.1:8000, max_new_tokens: 32}
    service: {url: http://127.0.0.1:8000}        # default: the target's url for an aiqa target
    thresholds: {pass_rate: 0.9, gate: point, max_errors: 0}   # pass_rate of the decided cases (default 1.0);
                                                  # gate: point or lower_bound; errors allowed (default 0)
    defaults: {repeats: 1, pass: all}             # or majority, any; or min_passes: N, min_pass_fraction: 0.67
    canary: AIQA-CANARY-...                       # default: a new random one per run
    refusal: {candidate_labels: [refusal, answer], model: ..., hypothesis_template: ..., min_score: 0.9}
    cases: [...]
Every error names the offending path, e.g. `cases[2].expect[0]: unknown check 'containz'`.
"""
import os
from dataclasses import dataclass

from ..comparison import GATES, wilson_interval
import yaml

from .adversarial import AdversarialCase, new_canary, parse_refusal
from .base import Case, PassRule, Spec, SuiteError, parse_rule
from .bias import BiasCase
from .functional import ConsistencyCase, FunctionalCase
from .targets import Target, build_target, expand_env

KINDS = {cls.kind: cls for cls in (FunctionalCase, ConsistencyCase, BiasCase, AdversarialCase)}


@dataclass
class Suite:
    name: str
    path: str
    target: Target
    service_url: str | None
    service_api_key: str | None
    pass_rate: float
    cases: list[Case]
    canary: str
    refusal: dict
    gate: str = "point"   # "point": the pass rate itself; "lower_bound": its Wilson 95% lower bound
    max_errors: int = 0   # cases that may error (not decided) before the thresholds fail


def threshold_warning(suite: Suite) -> str | None:
    """A warning when the suite has too few cases for its threshold to mean much: with every case
    passing, the Wilson 95% lower bound of the pass rate stays under the threshold. None for a
    threshold of 100% held to the pass rate itself: "no case may fail" is a rule, not an estimate."""
    cases = len(suite.cases)
    if not cases or suite.pass_rate <= 0 or (suite.pass_rate >= 1 and suite.gate == "point"):
        return None
    best = wilson_interval(cases, cases)[0]
    if best >= suite.pass_rate - 1e-9:
        return None
    if suite.pass_rate >= 1:
        more = "no number of cases can"
    else:
        more = f"{next(n for n in range(cases, 1_000_000) if wilson_interval(n, n)[0] >= suite.pass_rate)} cases would"
    return (f"{cases} case(s) cannot show a pass rate of {suite.pass_rate:.0%} with 95% confidence: all passing gives "
            f"a lower bound of {best:.1%}; {more}")


def read_yaml(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise SuiteError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path} is not valid YAML: {exc}") from None
    return data


def _service(spec: Spec, target: Target) -> tuple[str | None, str | None]:
    raw = spec.get("service", (str, dict))
    if raw is None:
        return (target.url if target.kind == "aiqa" else None), None
    service = Spec({"url": raw} if isinstance(raw, str) else raw, "service")
    url = expand_env(service.get("url", str, required=True), "service.url")
    key_env = service.get("api_key_env", str)
    service.done()
    return url, os.environ.get(key_env) if key_env else None


def _cases(spec: Spec, defaults: dict) -> list[Case]:
    raw_cases = spec.get("cases", list, required=True)
    if not raw_cases:
        raise SuiteError("cases: give at least one case")
    cases = []
    for index, raw in enumerate(raw_cases):
        case_spec = Spec(raw, f"cases[{index}]")
        kind = case_spec.get("type", str, required=True)
        if kind not in KINDS:
            raise SuiteError(f"cases[{index}].type: unknown case type {kind!r}; known: {', '.join(KINDS)}")
        cases.append(KINDS[kind](case_spec, defaults))
        case_spec.done()
    ids = [case.id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SuiteError(f"cases: ids must be unique; repeated: {duplicates}")
    return cases


def _check_needs(cases: list[Case], target: Target, service_url: str | None) -> None:
    for case in cases:
        if case.uses_service and not service_url:
            raise SuiteError(f"case {case.id!r} needs the aiqa scoring service: set service.url")
        if getattr(case, "multiturn", False) and not target.supports_history:
            raise SuiteError(f"case {case.id!r} uses the multiturn strategy, but a target of type {target.kind} "
                             "keeps no conversation (use openai or aiqa)")
        if getattr(case, "uses_system", False) and not target.supports_system:
            raise SuiteError(f"case {case.id!r} places a canary or a customer record in the system prompt, but "
                             "target.body has no {system} placeholder")


def load_suite(path: str, canary: str | None = None) -> Suite:
    """Read and validate a suite file; SuiteError (exit 2) for anything broken, before any call."""
    spec = Spec(read_yaml(path), "suite")
    target = build_target(Spec(spec.get("target", dict, required=True), "target"))
    service_url, service_key = _service(spec, target)
    thresholds = Spec(spec.get("thresholds", dict, {}), "thresholds")
    pass_rate = thresholds.fraction("pass_rate", 1.0)
    gate = thresholds.get("gate", str, "point")
    max_errors = thresholds.get("max_errors", int, 0)
    if max_errors < 0:
        raise SuiteError(f"thresholds.max_errors: must be 0 or more, got {max_errors}")
    if gate not in GATES:
        raise SuiteError(f"thresholds.gate: must be one of {', '.join(GATES)}, got {gate!r}")
    thresholds.done()
    defaults = Spec(spec.get("defaults", dict, {}), "defaults")
    case_defaults = {"repeats": defaults.positive("repeats", 1), "rule": parse_rule(defaults, PassRule())}
    defaults.done()
    cases = _cases(spec, case_defaults)
    _check_needs(cases, target, service_url)
    name = spec.get("name", str, os.path.splitext(os.path.basename(path))[0])
    canary = canary or spec.get("canary", str, None) or new_canary()
    spec.used.add("canary")
    refusal = parse_refusal(spec.get("refusal", dict, {}))
    spec.done()
    suite = Suite(name, path, target, service_url, service_key, pass_rate, cases, canary, refusal, gate, max_errors)
    warning = threshold_warning(suite)
    if warning and gate == "lower_bound":
        raise SuiteError(f"thresholds: gate lower_bound can never pass: {warning}")
    return suite
