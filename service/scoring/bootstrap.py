"""Bootstrap confidence intervals and paired comparisons, reproducible for a given seed.

Every interval is a percentile interval of replicates computed on items redrawn with replacement
(numpy's Generator seeded with `seed`). A comparison redraws the same items for both systems, so it
measures the difference on this data set (a paired bootstrap).
"""
import math
import random
import warnings
from collections import defaultdict

import numpy as np
from flask import current_app

from ..errors import PayloadTooLarge

LEVEL, RESAMPLES = 0.95, 1000  # what a request that asks for intervals gets when it says no more

_CHUNK_ELEMENTS = 4_000_000  # bounds the memory of one batch of redrawn statistics (~32 MB)


def new_seed() -> int:
    return random.SystemRandom().randrange(2**32)


def replicates(spec, module, systems: list[dict], params: dict, results: list[dict], rng, resamples: int):
    """For each system (its validated inputs), {result key: one value per resample}."""
    if spec.resampling == "weighted":
        return _weighted(module, systems, params, rng, resamples)
    if spec.resampling == "recompute":
        return _recomputed(spec, module, systems, params, rng, resamples)
    if spec.resampling == "additive":
        statistics = [module._item_statistics(**inputs, **params) for inputs in systems]
        count = len(statistics[0])

        def score(totals):
            return module._score_statistics(totals, count, **params)
    else:
        statistics = [np.asarray(result[spec.per_item], dtype=np.float64)[:, None] for result in results]
        count = len(statistics[0])

        def score(totals):
            return {spec.primary: totals[:, 0] / count}
    _check_budget(count, resamples)
    return [score(totals) for totals in _resampled_sums(statistics, rng, resamples)]


def _check_budget(size: int, resamples: int) -> None:
    limit = current_app.config["MAX_BOOTSTRAP_DRAWS"]
    if size * resamples > limit:
        raise PayloadTooLarge(
            f"{resamples} resamples of {size} items exceed the bootstrap limit of {limit} draws; "
            "ask for fewer resamples or send fewer items", errors={"resamples": [f"At most {limit // size}."]})


def _resampled_sums(statistics: list[np.ndarray], rng, resamples: int) -> list[np.ndarray]:
    """Sums of each system's per-item statistics over the same redrawn items."""
    count = len(statistics[0])
    sums = [np.empty((resamples, s.shape[1])) for s in statistics]
    chunk = max(1, _CHUNK_ELEMENTS // (count * max(s.shape[1] for s in statistics)))
    for start in range(0, resamples, chunk):
        indices = rng.integers(0, count, size=(min(chunk, resamples - start), count))
        for stats, out in zip(statistics, sums):
            out[start:start + len(indices)] = stats[indices].sum(axis=1)
    return sums


def _recomputed(spec, module, systems: list[dict], params: dict, rng, resamples: int):
    """The module's own `_compute` on each redrawn sample (the same items for every system), for its
    primary key: for statistics no per-item sum gives, such as a rank correlation. It costs a
    computation per resample, bounded like the others by MAX_BOOTSTRAP_DRAWS. A sample the statistic
    is undefined on (one repeated value) gives NaN, which the interval leaves out."""
    count = len(next(iter(systems[0].values())))
    _check_budget(count, resamples)
    columns = [{field: np.asarray(column) for field, column in system.items()} for system in systems]
    found = np.empty((len(systems), resamples))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for number in range(resamples):
            indices = rng.integers(0, count, size=count)
            for which, system in enumerate(columns):
                drawn = {field: column[indices] for field, column in system.items()}
                try:
                    value = module._compute(**drawn, **params)[spec.primary]
                except ValueError:  # e.g. a redraw with one class only, on which ROC AUC is undefined
                    value = math.nan
                if not isinstance(value, float):  # not a scalar (one score per class): no interval
                    return [{} for _ in systems]
                found[which, number] = value
    return [{spec.primary: values} for values in found]


def _weighted(module, systems: list[dict], params: dict, rng, resamples: int):
    """Label metrics depend only on how often each (reference, prediction) cell occurs, so redraw the
    cell counts (multinomial, as redrawing items would) and pass them to scikit-learn as weights."""
    references = systems[0]["references"]
    columns = [references] + [system["predictions"] for system in systems]
    values, codes = np.unique(np.concatenate(columns), return_inverse=True)
    cells, counts = np.unique(codes.reshape(len(columns), -1).T, axis=0, return_counts=True)
    _check_budget(len(cells), resamples)
    draws = rng.multinomial(len(references), counts / counts.sum(), size=resamples)
    collected = [defaultdict(list) for _ in systems]
    for draw in draws:
        drawn = draw > 0
        cell_references = values[cells[drawn, 0]]
        for column, found in enumerate(collected, start=1):
            result = module._compute(predictions=values[cells[drawn, column]], references=cell_references,
                                     sample_weight=draw[drawn], **params)
            for key, value in result.items():
                if isinstance(value, float):
                    found[key].append(value)
    return [{key: np.asarray(found_values) for key, found_values in found.items()} for found in collected]


def interval(values: np.ndarray, level: float) -> dict | None:
    """The percentile interval of the replicates the statistic is defined on (a resample can draw one
    repeated value, on which a correlation is not); None when it is defined on none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return {"low": float(low), "high": float(high), "level": level}


def confidence_intervals(spec, module, inputs: dict, params: dict, result: dict, confidence: dict) -> dict:
    """{result key: {low, high, level}} for every scalar the metric can resample."""
    rng = np.random.default_rng(confidence["seed"])
    found = replicates(spec, module, [inputs], params, [result], rng, confidence["resamples"])[0]
    intervals = {key: interval(values, confidence["level"]) for key, values in found.items()
                 if isinstance(result.get(key), (int, float))}
    return {key: found_interval for key, found_interval in intervals.items() if found_interval is not None}


def paired_difference(spec, module, systems: list[dict], params: dict, results: list[dict], key: str,
                      options: dict) -> dict:
    """b - a on `key`, its percentile interval, and a two-sided bootstrap p-value.

    The p-value counts replicates whose difference lies at least |b - a| away from b - a (the
    replicates shifted to the null of no difference), plus one so it is never exactly zero.
    """
    rng = np.random.default_rng(options["seed"])
    found_a, found_b = replicates(spec, module, systems, params, results, rng, options["resamples"])
    observed = results[1][key] - results[0][key]
    differences = found_b[key] - found_a[key]
    differences = differences[np.isfinite(differences)]  # replicates the statistic is undefined on
    extreme = np.abs(differences - observed) >= abs(observed) - 1e-12
    return {"difference": float(observed),
            "confidence_interval": interval(differences, options["level"]),
            "p_value": float((1 + extreme.sum()) / (len(differences) + 1))}


def mcnemar(references: np.ndarray, predictions_a: np.ndarray, predictions_b: np.ndarray) -> dict:
    """McNemar's exact test: a two-sided binomial test on the items exactly one system gets right."""
    from scipy.stats import binomtest
    right_a, right_b = predictions_a == references, predictions_b == references
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    p_value = binomtest(only_b, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"a_correct_b_wrong": only_a, "a_wrong_b_correct": only_b, "p_value": float(p_value)}
