"""ROC AUC: the area under the receiver operating characteristic curve of scores (scikit-learn's
roc_auc_score), for binary, multiclass and multilabel outcomes, as evaluate's module takes them."""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import roc_auc_score

_DESCRIPTION = """
The area under the ROC curve: the probability that a randomly chosen positive item is scored above a
randomly chosen negative one. 0.5 is chance, 1 is perfect. Binary: one score per item (of the greater
label). Multiclass: a row of class probabilities per item (summing to 1), one-vs-rest (ovr) or
one-vs-one (ovo). Multilabel: a row of scores per item against a row of 0/1 labels.
"""

_KWARGS_DESCRIPTION = """
Args:
    prediction_scores (`list` of `float`, or `list` of `list` of `float`): scores per item (binary), or
        per item and class (multiclass, multilabel).
    references (`list` of `int`, or `list` of `list` of `int`): labels (binary, multiclass), or 0/1 rows
        (multilabel).
    average (`str` or null, default "macro"): macro, weighted, micro (multilabel), samples (multilabel),
        or null for one score per class (multilabel).
    max_fpr (`float`, optional): the standardized partial AUC up to this false positive rate (binary).
    multi_class (`str`, default "raise"): ovr or ovo, required for multiclass.
    labels (`list`, optional): the classes the multiclass score columns stand for, in order.
Returns:
    roc_auc (`float`, or `list` of `float` with average null).
Examples:
    >>> roc_auc = ROCAUC()
    >>> round(roc_auc.compute(references=[1, 0, 1, 1, 0, 0], prediction_scores=[0.5, 0.2, 0.99, 0.3, 0.1, 0.7])["roc_auc"], 2)
    0.78
"""

_CITATION = """
@article{scikit-learn, title={Scikit-learn: Machine Learning in {P}ython}, author={Pedregosa, F. and others},
journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ROCAUC(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"prediction_scores": datasets.Value("float64"), "references": datasets.Value("int64")}),
                datasets.Features({"prediction_scores": datasets.Sequence(datasets.Value("float64")),
                                   "references": datasets.Value("int64")}),
                datasets.Features({"prediction_scores": datasets.Sequence(datasets.Value("float64")),
                                   "references": datasets.Sequence(datasets.Value("int64"))}),
            ],
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.roc_auc_score.html"],
        )

    def _compute(self, prediction_scores, references, average="macro", max_fpr=None, multi_class="raise",
                 labels=None):
        score = roc_auc_score(np.asarray(references), np.asarray(prediction_scores, dtype=np.float64),
                              average=average, max_fpr=max_fpr, multi_class=multi_class, labels=labels)
        return {"roc_auc": score.tolist() if np.ndim(score) else float(score)}
