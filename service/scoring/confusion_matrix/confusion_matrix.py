"""Confusion matrix: counts of each (reference, prediction) pair (scikit-learn's confusion_matrix)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import confusion_matrix
from sklearn.utils.multiclass import unique_labels

_DESCRIPTION = """
The confusion matrix counts items by reference (rows) and prediction (columns), in the order of `labels`
(by default every label that occurs, sorted). `normalize` divides by the row (true), column (pred) or
grand (all) total.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int` or `str`): predicted labels.
    references (`list` of `int` or `str`): ground-truth labels.
    labels (`list`, optional): the rows and columns, in this order.
    sample_weight (`list` of `float`, optional): a weight per item.
    normalize (`str`, optional): true, pred or all.
Returns:
    confusion_matrix (`list` of `list`): row i, column j counts items with reference labels[i] predicted as labels[j].
    labels (`list`): the order of the rows and columns.
Examples:
    >>> matrix = ConfusionMatrix()
    >>> matrix.compute(predictions=[0, 1, 1, 0, 1], references=[0, 1, 0, 0, 1])
    {'confusion_matrix': [[2, 1], [0, 2]], 'labels': [0, 1]}
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
class ConfusionMatrix(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_LABELS,
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.confusion_matrix.html"],
        )

    def _compute(self, predictions, references, labels=None, sample_weight=None, normalize=None):
        references, predictions = np.asarray(references), np.asarray(predictions)
        order = list(labels) if labels is not None else unique_labels(references, predictions).tolist()
        if labels is None and len(order) == 1:
            # Every item is on the one diagonal cell: scikit-learn's matrix, without its warning.
            total = len(references) if sample_weight is None else np.sum(sample_weight).item()
            return {"confusion_matrix": [[1.0 if normalize else total]], "labels": order}
        matrix = confusion_matrix(references, predictions, labels=labels, sample_weight=sample_weight,
                                  normalize=normalize)
        return {"confusion_matrix": matrix.tolist(), "labels": order}
