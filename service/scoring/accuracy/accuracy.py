"""Accuracy: the fraction of predictions equal to their references (scikit-learn's accuracy_score)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score

_DESCRIPTION = """
Accuracy is the proportion of correct predictions among all items:
Accuracy = (TP + TN) / (TP + TN + FP + FN). Labels may be integers or strings.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int` or `str`): predicted labels.
    references (`list` of `int` or `str`): ground-truth labels.
    normalize (`bool`, default True): the fraction correct; False gives the number correct.
    sample_weight (`list` of `float`, optional): a weight per item.
Returns:
    accuracy (`float`): the fraction (or number) of correct predictions.
Examples:
    >>> accuracy = Accuracy()
    >>> accuracy.compute(predictions=[0, 1, 1, 0, 1], references=[0, 1, 0, 0, 1])
    {'accuracy': 0.8}
    >>> accuracy.compute(predictions=["cat", "dog"], references=["cat", "cat"], normalize=False)
    {'accuracy': 1.0}
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
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_LABELS,
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.accuracy_score.html"],
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        score = accuracy_score(np.asarray(references), np.asarray(predictions), normalize=normalize,
                               sample_weight=sample_weight)
        return {"accuracy": float(score)}
