"""Exact match: the fraction of predictions identical to their references after optional normalisation."""
import re
import string

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Exact match is the fraction of predictions that equal their reference string exactly, after the
normalisations asked for, applied in this order: remove each regex in `regexes_to_ignore`, lowercase,
remove ASCII punctuation, remove digits, collapse whitespace (runs become one space, ends are trimmed).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): predicted texts.
    references (`list` of `str`): reference texts.
    regexes_to_ignore (`list` of `str`, optional): regular expressions whose matches are removed.
    ignore_case (`bool`, default False): compare lowercased texts.
    ignore_punctuation (`bool`, default False): remove the characters of string.punctuation.
    ignore_numbers (`bool`, default False): remove the digits 0-9.
    ignore_whitespace (`bool`, default False): collapse runs of whitespace and trim both ends.
Returns:
    exact_match (`float`): the fraction of exact matches, between 0 and 1.
Examples:
    >>> exact_match = ExactMatch()
    >>> exact_match.compute(predictions=["Paris", "the cat"], references=["paris", "the cat"])
    {'exact_match': 0.5}
    >>> exact_match.compute(predictions=["Paris!", " the  cat"], references=["paris", "the cat"],
    ...                     ignore_case=True, ignore_punctuation=True, ignore_whitespace=True)
    {'exact_match': 1.0}
"""

_CITATION = ""

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_DIGITS = str.maketrans("", "", string.digits)


def normalise(text, regexes=(), ignore_case=False, ignore_punctuation=False, ignore_numbers=False,
              ignore_whitespace=False):
    for pattern in regexes:
        text = re.sub(pattern, "", text)
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(_PUNCTUATION)
    if ignore_numbers:
        text = text.translate(_DIGITS)
    if ignore_whitespace:
        text = " ".join(text.split())
    return text


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
            reference_urls=["https://huggingface.co/spaces/evaluate-metric/exact_match"],
        )

    def _compute(self, predictions, references, regexes_to_ignore=None, ignore_case=False, ignore_punctuation=False,
                 ignore_numbers=False, ignore_whitespace=False):
        matches = self._item_statistics(
            predictions, references, regexes_to_ignore=regexes_to_ignore, ignore_case=ignore_case,
            ignore_punctuation=ignore_punctuation, ignore_numbers=ignore_numbers, ignore_whitespace=ignore_whitespace)
        return {"exact_match": float(matches[:, 0].mean())}

    def _item_statistics(self, predictions, references, regexes_to_ignore=None, ignore_case=False,
                         ignore_punctuation=False, ignore_numbers=False, ignore_whitespace=False):
        """One row per item: 1.0 where it matches. The mean over resampled rows is the bootstrap replicate."""
        options = dict(regexes=[re.compile(r) for r in regexes_to_ignore or ()], ignore_case=ignore_case,
                       ignore_punctuation=ignore_punctuation, ignore_numbers=ignore_numbers,
                       ignore_whitespace=ignore_whitespace)
        matches = [normalise(p, **options) == normalise(r, **options) for p, r in zip(predictions, references)]
        return np.asarray(matches, dtype=np.float64)[:, None]

    def _score_statistics(self, totals, count, **options):
        return {"exact_match": totals[:, 0] / count}
