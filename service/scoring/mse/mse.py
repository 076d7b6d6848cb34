"""MSE: the mean squared error of numeric predictions, or its root (scikit-learn's mean_squared_error
and root_mean_squared_error)."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import mean_squared_error, root_mean_squared_error

_DESCRIPTION = """
Mean squared error: the mean of (prediction - reference)^2 over all items. With squared=False, its
square root (RMSE), in the references' unit. Lower is better; 0 is a perfect fit.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): predicted values.
    references (`list` of `float`): true values.
    squared (`bool`, default True): the mean squared error; False gives its root (RMSE).
Returns:
    mse (`float`): the mean squared error (or its root), 0 or more.
Examples:
    >>> mse = Mse()
    >>> mse.compute(predictions=[2.5, 0.0, 2, 8], references=[3, -0.5, 2, 7])
    {'mse': 0.375}
    >>> round(mse.compute(predictions=[2.5, 0.0, 2, 8], references=[3, -0.5, 2, 7], squared=False)["mse"], 4)
    0.6124
"""

_CITATION = """
@article{scikit-learn, title={Scikit-learn: Machine Learning in {P}ython}, author={Pedregosa, F. and others},
journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Mse(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.mean_squared_error.html"],
        )

    def _compute(self, predictions, references, squared=True):
        # scikit-learn 1.6 dropped mean_squared_error's `squared`; its root has a function of its own.
        error = mean_squared_error if squared else root_mean_squared_error
        return {"mse": float(error(np.asarray(references), np.asarray(predictions)))}

    def _item_statistics(self, predictions, references, squared=True):
        """One row per item: its squared error."""
        difference = np.asarray(predictions, dtype=np.float64) - np.asarray(references, dtype=np.float64)
        return (difference ** 2)[:, None]

    def _score_statistics(self, totals, count, squared=True):
        mean = totals[:, 0] / count
        return {"mse": mean if squared else np.sqrt(mean)}
