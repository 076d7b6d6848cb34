"""Spearman's rank correlation of numeric predictions and references (scipy.stats.spearmanr)."""
import datasets
import evaluate
import numpy as np
from scipy.stats import spearmanr

_DESCRIPTION = """
Spearman's rank correlation: Pearson's correlation of the ranks, so it measures how well a monotonic
function (not only a line) relates predictions to references, from -1 through 0 to 1. Its p-value
tests the hypothesis of no correlation. Undefined when either side is constant.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): predicted values.
    references (`list` of `float`): true values.
    return_pvalue (`bool`, default False): also return the two-sided p-value.
Returns:
    spearmanr (`float`): between -1 and 1.
    spearmanr_pvalue (`float`): with return_pvalue.
Examples:
    >>> spearman = Spearmanr()
    >>> spearman.compute(predictions=[10, 9, 2.5, 6, 4], references=[1, 2, 3, 4, 5])
    {'spearmanr': -0.7}
"""

_CITATION = """
@article{2020SciPy-NMeth, author={Virtanen, Pauli and others}, title={{SciPy} 1.0: Fundamental Algorithms for
Scientific Computing in Python}, journal={Nature Methods}, year={2020}, volume={17}, pages={261--272}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Spearmanr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
            reference_urls=["https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats.spearmanr.html"],
        )

    def _compute(self, predictions, references, return_pvalue=False):
        result = spearmanr(np.asarray(references, dtype=np.float64), np.asarray(predictions, dtype=np.float64))
        if return_pvalue:
            return {"spearmanr": float(result[0]), "spearmanr_pvalue": float(result[1])}
        return {"spearmanr": float(result[0])}
