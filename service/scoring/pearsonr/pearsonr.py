"""Pearson's correlation coefficient of numeric predictions and references (scipy.stats.pearsonr)."""
import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr

_DESCRIPTION = """
Pearson's correlation coefficient: how well a straight line relates predictions to references, from
-1 (a perfect inverse line) through 0 (none) to 1 (a perfect line). Its p-value tests the hypothesis of
no correlation, assuming both are normally distributed. Undefined when either side is constant.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): predicted values.
    references (`list` of `float`): true values.
    return_pvalue (`bool`, default False): also return the two-sided p-value.
Returns:
    pearsonr (`float`): between -1 and 1.
    p-value (`float`): with return_pvalue.
Examples:
    >>> pearson = Pearsonr()
    >>> round(pearson.compute(predictions=[10, 9, 2.5, 6, 4], references=[1, 2, 3, 4, 5])["pearsonr"], 2)
    -0.74
"""

_CITATION = """
@article{2020SciPy-NMeth, author={Virtanen, Pauli and others}, title={{SciPy} 1.0: Fundamental Algorithms for
Scientific Computing in Python}, journal={Nature Methods}, year={2020}, volume={17}, pages={261--272}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Pearsonr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
            reference_urls=["https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats.pearsonr.html"],
        )

    def _compute(self, predictions, references, return_pvalue=False):
        result = pearsonr(np.asarray(references, dtype=np.float64), np.asarray(predictions, dtype=np.float64))
        if return_pvalue:
            return {"pearsonr": float(result[0]), "p-value": float(result[1])}
        return {"pearsonr": float(result[0])}

    def _item_statistics(self, predictions, references, return_pvalue=False):
        """One row per item: x, y, x^2, y^2, xy, each side centred on its mean first (the sums of a
        resample give its correlation without the cancellation of raw moments)."""
        x = np.asarray(predictions, dtype=np.float64)
        y = np.asarray(references, dtype=np.float64)
        x, y = x - x.mean(), y - y.mean()
        return np.column_stack([x, y, x * x, y * y, x * y])

    def _score_statistics(self, totals, count, return_pvalue=False):
        sx, sy, sxx, syy, sxy = (totals[:, i] for i in range(5))
        covariance = sxy - sx * sy / count
        variances = (sxx - sx * sx / count) * (syy - sy * sy / count)
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample with one side constant: undefined
            value = np.where(variances > 0, covariance / np.sqrt(np.where(variances > 0, variances, 1)), np.nan)
        return {"pearsonr": np.clip(value, -1.0, 1.0)}
