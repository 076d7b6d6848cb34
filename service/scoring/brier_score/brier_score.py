"""Brier score: the mean squared difference between predicted probabilities of the positive class and
what happened (scikit-learn's brier_score_loss)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import brier_score_loss

_DESCRIPTION = """
The Brier score of binary probabilistic predictions: the mean of (p - y)^2, where p is the predicted
probability of the positive class and y is 1 where the reference is the positive class, else 0.
0 is perfect, lower is better; it rewards probabilities that are both sharp and calibrated.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): the predicted probability of the positive class, each in [0, 1].
    references (`list` of `int` or `str`): the true labels, at most two different ones.
    pos_label (`int` or `str`, default 1): the positive class (name it for string labels).
Returns:
    brier_score (`float`): between 0 and 1, lower is better.
Examples:
    >>> brier = BrierScore()
    >>> round(brier.compute(predictions=[0.1, 0.9, 0.8, 0.3], references=[0, 0, 1, 1])["brier_score"], 4)
    0.3375
    >>> round(brier.compute(predictions=[0.1, 0.9, 0.8, 0.3], references=["spam", "ham", "ham", "spam"],
    ...                     pos_label="ham")["brier_score"], 4)
    0.0375
"""

_CITATION = """
@article{brier1950verification, title={Verification of forecasts expressed in terms of probability},
author={Brier, Glenn W.}, journal={Monthly Weather Review}, volume={78}, number={1}, pages={1--3}, year={1950}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class BrierScore(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("int64")}),
                datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("string")}),
            ],
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.brier_score_loss.html"],
        )

    def _compute(self, predictions, references, pos_label=1):
        score = brier_score_loss(np.asarray(references), np.asarray(predictions, dtype=np.float64), pos_label=pos_label)
        return {"brier_score": float(score)}

    def _item_statistics(self, predictions, references, pos_label=1):
        """One row per item: its squared error against 1 (the positive class) or 0."""
        outcome = (np.asarray(references) == pos_label).astype(np.float64)
        return ((np.asarray(predictions, dtype=np.float64) - outcome) ** 2)[:, None]

    def _score_statistics(self, totals, count, pos_label=1):
        return {"brier_score": totals[:, 0] / count}
