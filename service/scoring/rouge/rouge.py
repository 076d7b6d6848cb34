"""ROUGE as Google's rouge-score package computes it, averaged over the predictions."""
import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
ROUGE (rouge-score) compares each prediction with its reference(s) by overlapping units: rouge1 and
rouge2 by unigrams and bigrams, rougeL by the longest common subsequence, rougeLsum by the summary-level
LCS over newline-separated sentences. Each value is the F-measure; with `use_aggregator` (the default)
it is the arithmetic mean over predictions. With several references, each prediction takes the best
one (rouge-score's score_multi). The tokenizer keeps lowercase ASCII letters and digits only.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): predicted texts.
    references (`list` of `str` or `list` of `list` of `str`): one or more reference texts per prediction.
    rouge_types (`list` of `str`, default all four): rouge1, rouge2, rougeL, rougeLsum.
    use_aggregator (`bool`, default True): the mean over predictions; False gives one value per prediction.
    use_stemmer (`bool`, default False): Porter-stem tokens before matching.
Returns:
    One F-measure per rouge type, each between 0 and 1.
Examples:
    >>> rouge = Rouge()
    >>> rouge.compute(predictions=["the cat sat", "hello there"], references=["the cat sat", "general kenobi"])
    {'rouge1': 0.5, 'rouge2': 0.5, 'rougeL': 0.5, 'rougeLsum': 0.5}
"""

_CITATION = """
@inproceedings{lin-2004-rouge, title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
author = "Lin, Chin-Yew", booktitle = "Text Summarization Branches Out", year = "2004", pages = "74--81"}
"""

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Sequence(datasets.Value("string"))}),
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Value("string")}),
            ],
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
            reference_urls=["https://aclanthology.org/W04-1013/"],
        )

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False):
        types = list(rouge_types or ROUGE_TYPES)
        scores = self._item_statistics(predictions, references, rouge_types=types, use_stemmer=use_stemmer)
        if use_aggregator:
            return {name: float(column.mean()) for name, column in zip(types, scores.T)}
        return {name: column.tolist() for name, column in zip(types, scores.T)}

    def _item_statistics(self, predictions, references, rouge_types=None, use_stemmer=False, use_aggregator=True):
        """One row per prediction, one F-measure per rouge type."""
        from rouge_score import rouge_scorer  # on first use: with nltk, ~25 MB a worker (service.share_imports)
        types = list(rouge_types or ROUGE_TYPES)
        scorer = rouge_scorer.RougeScorer(types, use_stemmer=use_stemmer)
        rows = []
        for prediction, refs in zip(predictions, references):
            if isinstance(refs, str):
                scores = scorer.score(refs, prediction)
            else:
                scores = scorer.score_multi(list(refs), prediction)
            rows.append([scores[name].fmeasure for name in types])
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(types))

    def _score_statistics(self, totals, count, rouge_types=None, **options):
        types = list(rouge_types or ROUGE_TYPES)
        return {name: totals[:, i] / count for i, name in enumerate(types)}
