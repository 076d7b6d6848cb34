"""The comparison's statistics against their reference implementations, on random inputs."""
import random

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from aiqa_client.comparison import (IMPROVED, NO_CHANGE, REGRESSED, TOO_FEW, compare_runs, mcnemar_exact,
                                    needed_paired_cases, paired_bootstrap, smallest_p_value, wilson_interval)


@pytest.mark.parametrize("seed", range(40))
def test_mcnemar_equals_scipys_binomial_test_and_statsmodels(seed):
    rng = random.Random(seed)
    b, c = rng.randint(0, 40), rng.randint(0, 40)
    ours = mcnemar_exact(b, c)
    if b + c:
        assert ours == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-12)
    assert ours == pytest.approx(mcnemar([[5, b], [c, 7]], exact=True).pvalue, rel=1e-12)


def test_the_smallest_possible_p_value_is_all_pairs_flipping_one_way():
    assert smallest_p_value(5) == pytest.approx(2 / 2 ** 5)
    assert smallest_p_value(0) == 1.0
    # 5 paired cases can reach 0.0625 at best, never 0.05: too few for a test at 5 %
    assert smallest_p_value(5) > 0.05 > smallest_p_value(6)


@pytest.mark.parametrize("seed", range(8))
def test_paired_bootstrap_agrees_with_scipys_percentile_bootstrap(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    before = rng.random(n)
    after = np.clip(before + rng.normal(rng.normal(0, 0.05), 0.1, n), 0, 1)
    ours = paired_bootstrap(list(after - before), level=0.95, resamples=20000, seed=seed)
    reference = stats.bootstrap((after, before), lambda a, b, axis: np.mean(a - b, axis=axis), paired=True,
                                vectorized=True, n_resamples=20000, method="percentile", confidence_level=0.95,
                                random_state=rng)
    standard_error = np.std(after - before, ddof=1) / np.sqrt(n)
    assert ours["mean_difference"] == pytest.approx(np.mean(after - before), abs=1e-12)
    # two independent Monte Carlo estimates of the same quantiles: within a small part of the standard error
    assert ours["interval"][0] == pytest.approx(reference.confidence_interval.low, abs=0.15 * standard_error)
    assert ours["interval"][1] == pytest.approx(reference.confidence_interval.high, abs=0.15 * standard_error)


def test_paired_bootstrap_is_the_direct_percentile_computation():
    """Same draws, same answer: the interval is numpy's linear quantile of the resampled means."""
    differences = [random.Random(3).uniform(-1, 1) for _ in range(37)]
    ours = paired_bootstrap(differences, level=0.9, resamples=500, seed=11)
    rng = random.Random(11)
    means = [sum(rng.choices(differences, k=37)) / 37 for _ in range(500)]
    assert ours["interval"] == pytest.approx(list(np.quantile(means, [0.05, 0.95])), abs=1e-12)


# Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson score, no continuity correction)
NEWCOMBE = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]


@pytest.mark.parametrize("successes, trials, low, high", NEWCOMBE)
def test_wilson_interval_matches_newcombes_table_and_statsmodels(successes, trials, low, high):
    ours = wilson_interval(successes, trials)
    assert ours == pytest.approx([low, high], abs=5e-5)
    assert ours == pytest.approx(list(proportion_confint(successes, trials, 0.05, method="wilson")), abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_wilson_interval_equals_statsmodels_on_random_tables(seed):
    rng = random.Random(seed)
    trials = rng.randint(1, 500)
    successes, level = rng.randint(0, trials), rng.choice([0.8, 0.9, 0.95, 0.99])
    assert wilson_interval(successes, trials, level) == pytest.approx(
        list(proportion_confint(successes, trials, 1 - level, method="wilson")), abs=1e-12)


def test_no_trials_has_no_interval():
    assert wilson_interval(0, 0) is None


def report(statuses: dict[str, str], similarity: dict[str, float] | None = None) -> dict:
    return {"suite": "s", "cases": [{"id": i, "type": "functional", "status": s, "attempts": [
        {"passed": s == "passed", **({"similarity": similarity[i]} if similarity else {})}]}
        for i, s in statuses.items()]}


def test_flips_are_classified_and_regressions_come_first():
    before = report({"a": "passed", "b": "failed", "c": "passed", "d": "error", "e": "passed"})
    after = report({"a": "failed", "b": "passed", "c": "passed", "d": "passed", "f": "passed"})
    answer = compare_runs(after, before, unchanged=True)
    assert {c["id"]: c["flip"] for c in answer["cases"]} == {
        "a": "pass->fail", "b": "fail->pass", "c": "unchanged", "d": "out of error", "f": "new", "e": "removed"}
    assert answer["cases"][0]["id"] == "a"
    assert answer["paired_cases"] == 3  # a, b, c: errors and unpaired cases stay out of the test
    assert answer["errors_apart"] == 1 and answer["mcnemar"]["b"] == answer["mcnemar"]["c"] == 1
    assert answer["verdict"] == TOO_FEW and answer["needed_paired_cases"] == 6
    # unchanged cases are counted, and listed only when asked
    assert "c" not in {c["id"] for c in compare_runs(after, before)["cases"]}
    assert compare_runs(after, before)["flips"]["unchanged"] == 1
    into = compare_runs(report({"a": "error", "b": "error"}), report({"a": "passed", "b": "error"}), unchanged=True)
    assert [c["flip"] for c in into["cases"]] == ["into error", "error in both"]


def test_the_planted_regression_of_the_issue_40_cases_12_flips():
    ids = [f"c{i}" for i in range(40)]
    before = report(dict.fromkeys(ids, "passed"))
    after = report({i: "failed" if n < 12 else "passed" for n, i in enumerate(ids)})
    answer = compare_runs(after, before)
    assert answer["verdict"] == REGRESSED and answer["mcnemar"]["p_value"] < 0.01
    assert answer["mcnemar"]["p_value"] == pytest.approx(stats.binomtest(12, 12, 0.5).pvalue, rel=1e-12)
    assert answer["current"]["pass_rate"] == 28 / 40 and answer["baseline"]["pass_rate"] == 1.0
    assert answer["current"]["interval"] == pytest.approx(list(proportion_confint(28, 40, method="wilson")))
    three = compare_runs(report({"a": "failed", "b": "failed", "c": "failed"}),
                         report({"a": "passed", "b": "passed", "c": "passed"}))
    assert three["verdict"] == TOO_FEW and "needed_paired_cases" in three


@pytest.mark.parametrize("alpha", [0.2, 0.1, 0.05, 0.01, 0.001])
def test_needed_paired_cases_is_the_first_count_that_can_reach_alpha(alpha):
    needed = needed_paired_cases(alpha)
    assert smallest_p_value(needed) < alpha <= smallest_p_value(needed - 1)


def test_a_planted_regression_is_found_and_a_run_against_itself_is_no_change():
    ids = [f"c{i}" for i in range(60)]
    before = report(dict.fromkeys(ids, "passed"), {i: 0.9 for i in ids})
    after = report({i: "failed" if n < 12 else "passed" for n, i in enumerate(ids)},
                   {i: 0.5 if n < 12 else 0.9 for n, i in enumerate(ids)})
    regressed = compare_runs(after, before)
    assert regressed["verdict"] == REGRESSED and regressed["mcnemar"]["p_value"] < 0.01
    assert regressed["numbers"]["similarity"]["changed"] and regressed["numbers"]["similarity"]["interval"][1] < 0
    assert compare_runs(before, after)["verdict"] == IMPROVED
    same = compare_runs(before, before)
    assert same["verdict"] == NO_CHANGE and same["mcnemar"]["p_value"] == 1.0
    assert not same["numbers"]["similarity"]["changed"]
