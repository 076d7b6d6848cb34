"""A run against its baseline: per-case flips, McNemar's exact test, paired bootstrap intervals, a verdict.

The one implementation of the comparison: `aiqa run --baseline report.json` uses it with no service,
and the service's `GET /v1/runs/{id}/compare` imports it, so both give the same answer for the same
two runs. Standard library only.

The statistics, and why:
- Cases are paired by id: the same case in both runs. Outcomes are compared with McNemar's exact
  test (a two-sided binomial test on the discordant pairs: b = pass->fail against c = fail->pass),
  which is the test for paired binary outcomes; an unpaired test of two pass rates would ignore the
  pairing and lose power. Errors are neither passes nor failures: a case that errored in either run
  ("into error", "out of error", or in error in both) stays out of the test and is counted apart.
- Every number a check measured in both runs (a similarity, a score, a flip rate; the mean over its
  attempts) gets the mean paired difference, current minus baseline, with a percentile bootstrap
  interval over the paired cases (seeded, so the interval reproduces).
- The verdict is `regressed` or `improved` when McNemar's p-value is below alpha, `no significant
  change` otherwise, and `too few paired cases` when even every paired case flipping the same way
  could not reach alpha: then the comparison cannot detect anything, says so, and says how many
  paired cases it would take (`needed_paired_cases`).
- Each run's pass rate (passed / (passed + failed)) comes with its Wilson 95% interval.
"""
import math
import random
import statistics

PASSED, FAILED, ERROR = "passed", "failed", "error"
FLIPS = ("pass->fail", "fail->pass", "into error", "out of error", "error in both", "new", "removed", "unchanged")
REGRESSED, IMPROVED, NO_CHANGE, TOO_FEW = "regressed", "improved", "no significant change", "too few paired cases"
ALPHA, LEVEL, RESAMPLES = 0.05, 0.95, 2000
# What a suite's pass-rate threshold is held to: the pass rate itself, or its Wilson lower bound.
GATES = ("point", "lower_bound")


def target_key(target: dict) -> str:
    """How a run's target is named in filters, baselines and Prometheus labels: its type and url (and
    model). The service keys stored runs by it and the runner looks up `latest` with it, so it is here,
    in the one module both use."""
    key = f"{target['type']} {target['url']}"
    return f"{key} ({target['model']})" if target.get("model") else key


def wilson_interval(successes: int, trials: int, level: float = LEVEL) -> list[float] | None:
    """Wilson's score interval for a proportion; None for no trials. Unlike the normal
    approximation it stays inside [0, 1] and is honest at 0/n and n/n."""
    if trials == 0:
        return None
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return [max(0.0, centre - half), min(1.0, centre + half)]


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """Two-sided exact McNemar p-value: twice the smaller binomial tail of the discordant pairs."""
    discordant = pass_to_fail + fail_to_pass
    if discordant == 0:
        return 1.0
    smaller = min(pass_to_fail, fail_to_pass)
    tail = sum(math.comb(discordant, k) for k in range(smaller + 1)) / 2 ** discordant
    return min(1.0, 2 * tail)


def smallest_p_value(paired: int) -> float:
    """The smallest p-value McNemar's exact test can give on `paired` cases: all of them flipping one way."""
    return mcnemar_exact(paired, 0) if paired else 1.0


def needed_paired_cases(alpha: float) -> int:
    """The fewest paired cases on which McNemar's exact test can reach p < alpha at all."""
    # all n flipping one way gives 2 / 2**n, so n > log2(2 / alpha)
    paired = max(1, math.floor(math.log2(2 / alpha)) + 1)
    while smallest_p_value(paired - 1) < alpha:  # guard the float edge
        paired -= 1
    return paired


def paired_bootstrap(differences: list[float], level: float = LEVEL, resamples: int = RESAMPLES,
                     seed: int = 0) -> dict:
    """Mean of paired differences with a percentile bootstrap interval (items redrawn with replacement)."""
    n = len(differences)
    mean = math.fsum(differences) / n
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(differences, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return {"mean_difference": mean, "interval": [_quantile(means, tail), _quantile(means, 1 - tail)],
            "level": level, "resamples": resamples, "seed": seed, "n": n}


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile with linear interpolation (numpy's default), of a sorted list."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def case_numbers(case: dict) -> dict[str, float]:
    """The numbers a case's checks measured: each numeric attempt field, averaged over its attempts."""
    values: dict[str, list[float]] = {}
    for attempt in case.get("attempts") or []:
        for key, value in attempt.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                values.setdefault(key, []).append(float(value))
    return {key: math.fsum(found) / len(found) for key, found in values.items()}


def flip(baseline: str | None, current: str | None) -> str:
    if baseline is None:
        return "new"
    if current is None:
        return "removed"
    if baseline == current == ERROR:
        return "error in both"
    if baseline == current:
        return "unchanged"
    if current == ERROR:
        return "into error"
    if baseline == ERROR:
        return "out of error"
    return "pass->fail" if baseline == PASSED else "fail->pass"


def compare_runs(current: dict, baseline: dict, *, alpha: float = ALPHA, resamples: int = RESAMPLES,
                 seed: int = 0, unchanged: bool = False) -> dict:
    """Compare two runs (each with `cases`: [{id, status, attempts}]); see the module docstring.
    Cases that did not change are counted; they are listed too with `unchanged=True`."""
    now = {case["id"]: case for case in current["cases"]}
    before = {case["id"]: case for case in baseline["cases"]}
    cases, counts = [], dict.fromkeys(FLIPS, 0)
    for case_id in list(now) + [i for i in before if i not in now]:
        old, new = before.get(case_id), now.get(case_id)
        kind = flip(old and old["status"], new and new["status"])
        counts[kind] += 1
        cases.append({"id": case_id, "type": (new or old).get("type"), "flip": kind,
                      "baseline": old and old["status"], "current": new and new["status"]})
    cases.sort(key=lambda c: FLIPS.index(c["flip"]))  # regressions first
    if not unchanged:
        cases = [case for case in cases if case["flip"] not in ("unchanged", "error in both")]
    paired = [i for i in now if i in before and ERROR not in (now[i]["status"], before[i]["status"])]
    b, c = counts["pass->fail"], counts["fail->pass"]
    p_value = mcnemar_exact(b, c)
    smallest = smallest_p_value(len(paired))
    verdict = _verdict(p_value, smallest, b, c, alpha)
    answer = {
        "current": _identity(current), "baseline": _identity(baseline),
        "verdict": verdict, "alpha": alpha, "paired_cases": len(paired),
        "errors_apart": sum(counts[kind] for kind in ("into error", "out of error", "error in both")),
        "flips": counts,
        "mcnemar": {"test": "exact", "b": b, "c": c, "p_value": p_value, "smallest_possible_p_value": smallest},
        "numbers": _numbers(now, before, [i for i in now if i in before], LEVEL, resamples, seed),
        "cases": cases,
    }
    if verdict == TOO_FEW:
        answer["needed_paired_cases"] = needed_paired_cases(alpha)
    return answer


def pass_rate(run: dict) -> dict:
    """passed / (passed + failed) with its Wilson 95% interval; errors count for neither."""
    statuses = [case["status"] for case in run["cases"]]
    passed, decided = statuses.count(PASSED), statuses.count(PASSED) + statuses.count(FAILED)
    return {"passed": passed, "decided": decided, "pass_rate": passed / decided if decided else None,
            "interval": wilson_interval(passed, decided)}


def _identity(run: dict) -> dict:
    found = {key: run.get(key) for key in ("id", "suite", "started_at") if run.get(key) is not None}
    return {**found, **pass_rate(run)}


def _verdict(p_value: float, smallest: float, b: int, c: int, alpha: float) -> str:
    if smallest >= alpha:
        return TOO_FEW
    if p_value >= alpha:
        return NO_CHANGE
    return REGRESSED if b > c else IMPROVED


def _numbers(now: dict, before: dict, common: list, level: float, resamples: int, seed: int) -> dict:
    """Per measured number: the paired mean difference (current - baseline) and its interval."""
    pairs: dict[str, list[float]] = {}
    for case_id in common:
        old, new = case_numbers(before[case_id]), case_numbers(now[case_id])
        for key in new.keys() & old.keys():
            pairs.setdefault(key, []).append(new[key] - old[key])
    answer = {}
    for key in sorted(pairs):
        result = paired_bootstrap(pairs[key], level, resamples, seed)
        low, high = result["interval"]
        result["changed"] = low > 0 or high < 0
        answer[key] = result
    return answer
