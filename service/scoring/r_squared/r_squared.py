"""R squared: the coefficient of determination of numeric predictions, 1 - SS_res / SS_tot."""
import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
The coefficient of determination: 1 - (sum of squared errors) / (sum of squared deviations of the
references from their mean). 1 is a perfect fit, 0 no better than predicting the mean, and it is
negative for predictions worse than that. Undefined when every reference is the same.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): predicted values.
    references (`list` of `float`): true values (at least two different ones).
Returns:
    r_squared (`float`): at most 1, higher is better. evaluate's module returns the bare number; here it
    is keyed by its name, like every other metric's result.
Examples:
    >>> r2 = R2()
    >>> round(r2.compute(predictions=[1, 2, 3, 4], references=[0.9, 2.1, 3.2, 3.8])["r_squared"], 3)
    0.98
"""

_CITATION = """
@article{scikit-learn, title={Scikit-learn: Machine Learning in {P}ython}, author={Pedregosa, F. and others},
journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class R2(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
            reference_urls=["https://en.wikipedia.org/wiki/Coefficient_of_determination"],
        )

    def _compute(self, predictions, references):
        predictions, references = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64)
        residual = np.sum((predictions - references) ** 2)
        total = np.sum((references - references.mean()) ** 2)
        return {"r_squared": float(1 - residual / total)}

    def _item_statistics(self, predictions, references):
        """One row per item: squared error, reference, squared reference (SS_tot from the sums)."""
        predictions, references = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64)
        return np.column_stack([(predictions - references) ** 2, references, references ** 2])

    def _score_statistics(self, totals, count):
        total = totals[:, 2] - totals[:, 1] ** 2 / count
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample of one repeated reference: undefined
            return {"r_squared": np.where(total > 0, 1 - totals[:, 0] / np.where(total > 0, total, 1), np.nan)}
