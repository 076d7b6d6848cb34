"""Matthews correlation coefficient (scikit-learn's matthews_corrcoef)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import matthews_corrcoef

_DESCRIPTION = """
The Matthews correlation coefficient measures the quality of binary and multiclass classifications
from the whole confusion matrix: +1 is a perfect prediction, 0 no better than chance, -1 total
disagreement. It stays informative when the classes are of very different sizes.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int` or `str`): predicted labels.
    references (`list` of `int` or `str`): ground-truth labels.
    sample_weight (`list` of `float`, optional): a weight per item.
Returns:
    matthews_corrcoef (`float`): between -1 and 1.
Examples:
    >>> mcc = MatthewsCorrcoef()
    >>> round(mcc.compute(predictions=[0, 1, 1, 0, 1], references=[0, 1, 0, 0, 1])["matthews_corrcoef"], 4)
    0.6667
"""

_CITATION = """
@article{matthews1975, title={Comparison of the predicted and observed secondary structure of T4 phage lysozyme},
author={Matthews, Brian W}, journal={Biochimica et Biophysica Acta}, volume={405}, number={2}, pages={442--451},
year={1975}}
"""

_LABELS = [
    datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MatthewsCorrcoef(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_LABELS,
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.matthews_corrcoef.html"],
        )

    def _compute(self, predictions, references, sample_weight=None):
        references, predictions = np.asarray(references), np.asarray(predictions)
        if len(np.union1d(references, predictions)) < 2:
            # scikit-learn's value for a single label, without its warning that the matrix is 1x1.
            return {"matthews_corrcoef": 0.0}
        score = matthews_corrcoef(references, predictions, sample_weight=sample_weight)
        return {"matthews_corrcoef": float(score)}
