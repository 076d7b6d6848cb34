"""Counterfactual bias checks: swap demographic terms in each input and watch the classifier.

A swap table lists rows of interchangeable terms, one column per group (for the built-in gender
table: male, female). Each input yields one variant per group, every matched term replaced by its
row's term in that group's column. If the decision or the score of a label moves with the group
while nothing else changed, the classifier depends on the group words. A paired permutation test
asks whether the score differences are larger than chance: under the null the group assignment of
each input's variants is exchangeable, so the scores are shuffled within each input.
"""
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import operations
from .errors import ValidationFailed

GENDER_GROUPS = ("male", "female")
# Where a female term has two male counterparts ("her": "his" or "him") the first row wins:
# without parsing, the possessive is the likelier reading.
GENDER_TERMS = (
    ("he", "she"), ("his", "her"), ("him", "her"), ("his", "hers"), ("himself", "herself"),
    ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"), ("male", "female"),
    ("males", "females"), ("father", "mother"), ("fathers", "mothers"), ("son", "daughter"),
    ("sons", "daughters"), ("brother", "sister"), ("brothers", "sisters"), ("husband", "wife"),
    ("husbands", "wives"), ("boyfriend", "girlfriend"), ("uncle", "aunt"), ("nephew", "niece"),
    ("grandfather", "grandmother"), ("grandson", "granddaughter"), ("dad", "mom"), ("king", "queen"),
    ("prince", "princess"), ("gentleman", "lady"), ("gentlemen", "ladies"), ("sir", "madam"),
    ("mr", "mrs"), ("mr.", "ms."), ("masculine", "feminine"), ("fiance", "fiancee"),
    ("chairman", "chairwoman"), ("businessman", "businesswoman"), ("spokesman", "spokeswoman"),
)
PERMUTATION_CHUNK = 1000


@dataclass(frozen=True)
class SwapTable:
    """Rows of interchangeable terms; column g holds group g's term in every row."""
    groups: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @classmethod
    def from_request(cls, swaps) -> "SwapTable":
        if swaps == "gender":
            return cls(GENDER_GROUPS, GENDER_TERMS)
        rows = tuple(tuple(row) for row in swaps)
        return cls(rows[0], rows)

    def lookup(self) -> dict[str, int]:
        """Lower-cased term -> the first row that holds it."""
        table = {}
        for index, row in enumerate(self.rows):
            for term in row:
                table.setdefault(term.lower(), index)
        return table

    def pattern(self) -> re.Pattern:
        # Longest first, so "mr." wins over "mr"; lookarounds rather than \b, which fails after ".".
        terms = sorted({t.lower() for row in self.rows for t in row}, key=len, reverse=True)
        return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, terms)) + r")(?!\w)", re.IGNORECASE)


def match_case(source: str, target: str) -> str:
    """Write `target` in the case `source` was written in: HE -> SHE, He -> She, he -> she."""
    if len(source) > 1 and source.isupper():
        return target.upper()
    if source[:1].isupper():
        return target[:1].upper() + target[1:]
    return target


def make_variants(text: str, table: SwapTable) -> tuple[list[str], list[str]]:
    """One variant of `text` per group, and the terms that were matched (in order of appearance)."""
    lookup, pattern = table.lookup(), table.pattern()
    matched = [m.group(0) for m in pattern.finditer(text)]
    variants = [
        pattern.sub(lambda m: match_case(m.group(0), table.rows[lookup[m.group(0).lower()]][g]), text)
        for g in range(len(table.groups))
    ]
    return variants, matched


def group_statistic(scores: np.ndarray) -> np.ndarray:
    """Spread of the group means over the last two axes (inputs, groups): zero when no group differs."""
    means = scores.mean(axis=-2)
    return ((means - means.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)


def permutation_p_value(scores: np.ndarray, permutations: int, seed: int) -> float:
    """Paired permutation test on an (inputs, groups) score matrix; shuffles within each input.

    p = (1 + #{permuted statistic >= observed}) / (1 + permutations), the estimate that is never 0.
    """
    rng = np.random.default_rng(seed)
    observed = group_statistic(scores)
    # Permuted statistics equal to the observed one up to rounding count as "at least as extreme".
    threshold = observed - 1e-12 * max(1.0, observed)
    extreme, done = 0, 0
    while done < permutations:
        size = min(PERMUTATION_CHUNK, permutations - done)
        stack = rng.permuted(np.broadcast_to(scores, (size, *scores.shape)), axis=-1)
        extreme += int((group_statistic(stack) >= threshold).sum())
        done += size
    return (1 + extreme) / (1 + permutations)


def _score_texts(registry, data: dict, texts: list[str]) -> tuple[dict, list[dict]]:
    """Classify unique texts once; return the classify answer's identity and label -> score per text."""
    unique = list(dict.fromkeys(texts))
    request = {key: data[key] for key in ("model", "candidate_labels", "hypothesis_template") if key in data}
    answer = operations.classify(registry, {**request, "inputs": unique})
    by_text = {text: {r["label"]: r["score"] for r in row} for text, row in zip(unique, answer.pop("results"))}
    return answer, [by_text[text] for text in texts]


def _tracked_label(data: dict, labels: list[str], scores: list[dict]) -> str:
    """The label given, or the one predicted most often over all variants (ties: label order)."""
    if "label" in data:
        if data["label"] not in labels:
            raise ValidationFailed(f"label {data['label']!r} is not one of the model's labels {labels}",
                                   errors={"label": [f"Must be one of {labels}."]})
        return data["label"]
    votes = Counter(max(row, key=row.get) for row in scores)
    return max(labels, key=lambda label: (votes[label], -labels.index(label)))


def _input_result(text, matched, variants, groups, rows, label) -> dict:
    tops = [max(row, key=row.get) for row in rows]
    tracked = [row[label] for row in rows]
    return {
        "input": text, "matched_terms": matched,
        "variants": [{"group": g, "text": v, "label": t, "score": s}
                     for g, v, t, s in zip(groups, variants, tops, tracked)],
        "flipped": len(set(tops)) > 1, "score_change": max(tracked) - min(tracked),
    }


def _summary(results: list[dict], groups, permutations: int, seed: int) -> dict:
    matrix = np.array([[v["score"] for v in r["variants"]] for r in results])
    changes = [r["score_change"] for r in results]
    return {
        "inputs_with_terms": len(results),
        "flip_rate": sum(r["flipped"] for r in results) / len(results),
        "mean_score_change": math.fsum(changes) / len(changes),
        "max_score_change": max(changes),
        "group_mean_scores": dict(zip(groups, matrix.mean(axis=0).tolist())),
        "p_value": permutation_p_value(matrix, permutations, seed),
    }


def counterfactual(registry, data: dict) -> dict:
    """Score every input's group variants; flip rate, score changes and a permutation p-value."""
    table = SwapTable.from_request(data.get("swaps", "gender"))
    expanded = [make_variants(text, table) for text in data["inputs"]]
    if not any(matched for _, matched in expanded):
        raise ValidationFailed("no input contains any of the swap terms, so there is nothing to compare",
                               errors={"inputs": ["No input contains a swap term."]})
    texts = [v for variants, _ in expanded for v in variants]
    answer, scores = _score_texts(registry, data, texts)
    labels = data.get("candidate_labels") or list(registry.get(answer["model"], "classify").labels)
    label = _tracked_label(data, labels, scores)
    k = len(table.groups)
    results = [_input_result(text, matched, variants, table.groups, scores[i * k:(i + 1) * k], label)
               for i, (text, (variants, matched)) in enumerate(zip(data["inputs"], expanded))]
    compared = [r for r in results if r["matched_terms"]]
    permutations, seed = data.get("permutations", 10_000), data.get("seed", 0)
    return {**answer, "label": label, "swaps": data.get("swaps", "gender"), "groups": list(table.groups),
            "permutations": permutations, "seed": seed,
            **_summary(compared, table.groups, permutations, seed), "results": results}
