"""Recall: the fraction of actual positives predicted positive (scikit-learn's recall_score)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import recall_score

_DESCRIPTION = """
Recall is the fraction of actual positives that are predicted positive: Recall = TP / (TP + FN).
`average` picks how per-label scores combine: binary (the `pos_label` class only), micro, macro or weighted.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int` or `str`): predicted labels.
    references (`list` of `int` or `str`): ground-truth labels.
    labels (`list`, optional): the labels to include when `average` is not binary, in this order.
    pos_label (`int` or `str`, default 1): the positive class when `average` is binary.
    average (`str`, default "binary"): binary, micro, macro or weighted.
    sample_weight (`list` of `float`, optional): a weight per item.
    zero_division (`int`, default 0): the value a score takes when its denominator is zero.
Returns:
    recall (`float`): between 0 and 1, higher is better.
Examples:
    >>> recall = Recall()
    >>> recall.compute(predictions=[0, 1, 1, 0, 1], references=[0, 1, 0, 0, 1])
    {'recall': 1.0}
    >>> scores = recall.compute(predictions=[0, 2, 1, 0], references=[0, 1, 2, 0], average="macro")
    >>> round(scores["recall"], 4)
    0.3333
"""

_CITATION = """
@article{scikit-learn, title={Scikit-learn: Machine Learning in {P}ython}, author={Pedregosa, F. and others},
journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}
"""

_LABELS = [
    datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Recall(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_LABELS,
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.recall_score.html"],
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None,
                 zero_division=0):
        score = recall_score(np.asarray(references), np.asarray(predictions), labels=labels,
                             pos_label=pos_label, average=average, sample_weight=sample_weight,
                             zero_division=zero_division)
        return {"recall": float(score)}
