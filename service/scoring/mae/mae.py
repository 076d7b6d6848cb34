"""MAE: the mean absolute error of numeric predictions (scikit-learn's mean_absolute_error)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import mean_absolute_error

_DESCRIPTION = """
Mean absolute error: the mean of |prediction - reference| over all items, in the references' unit.
Lower is better; 0 is a perfect fit.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): predicted values.
    references (`list` of `float`): true values.
Returns:
    mae (`float`): the mean absolute error, 0 or more.
Examples:
    >>> mae = Mae()
    >>> mae.compute(predictions=[2.5, 0.0, 2, 8], references=[3, -0.5, 2, 7])
    {'mae': 0.5}
"""

_CITATION = """
@article{scikit-learn, title={Scikit-learn: Machine Learning in {P}ython}, author={Pedregosa, F. and others},
journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Mae(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.mean_absolute_error.html"],
        )

    def _compute(self, predictions, references):
        return {"mae": float(mean_absolute_error(np.asarray(references), np.asarray(predictions)))}

    def _item_statistics(self, predictions, references):
        """One row per item: its absolute error. The mean over resampled rows is the replicate."""
        return np.abs(np.asarray(predictions, dtype=np.float64) - np.asarray(references, dtype=np.float64))[:, None]

    def _score_statistics(self, totals, count):
        return {"mae": totals[:, 0] / count}
