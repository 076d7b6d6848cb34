"""BLEU as sacrebleu computes it: corpus-level, detokenized input, sacrebleu's own tokenizers."""
import datasets
import evaluate
import numpy as np
from sacrebleu.metrics import BLEU

_DESCRIPTION = """
BLEU (sacrebleu) scores a corpus of predictions against one or more references per prediction by
clipped n-gram precisions (n = 1..4) and a brevity penalty; `score` is on a 0-100 scale. Predictions
may be empty strings. References may be one string per prediction or a list of them (their number may
vary: sacrebleu skips missing ones).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): detokenized predicted texts.
    references (`list` of `str` or `list` of `list` of `str`): one or more reference texts per prediction.
    smooth_method (`str`, default "exp"): none, floor, add-k or exp.
    smooth_value (`float`, optional): the value for floor and add-k smoothing.
    force (`bool`, default False): do not warn about input that looks tokenized.
    lowercase (`bool`, default False): compare lowercased texts.
    tokenize (`str`, optional): sacrebleu's tokenizer: 13a (default), none, intl, char or zh.
    use_effective_order (`bool`, default False): ignore n-gram orders that have no matches.
Returns:
    score (`float`): BLEU, 0-100. counts, totals, precisions: per n-gram order. bp: the brevity
    penalty. sys_len, ref_len: prediction and effective reference lengths in tokens.
Examples:
    >>> bleu = Bleu()
    >>> result = bleu.compute(predictions=["the cat sat on the mat"], references=[["the cat sat on the mat"]])
    >>> round(result["score"], 6), result["bp"], result["counts"]
    (100.0, 1.0, [6, 5, 4, 3])
"""

_CITATION = """
@inproceedings{post-2018-call, title = "A Call for Clarity in Reporting {BLEU} Scores", author = "Post, Matt",
booktitle = "Proceedings of the Third Conference on Machine Translation", year = "2018", pages = "186--191"}
"""


def reference_streams(references):
    """sacrebleu wants one stream per reference position; pad rows with fewer references with None."""
    rows = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    width = max(len(row) for row in rows)
    return [[row[i] if i < len(row) else None for row in rows] for i in range(width)]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Bleu(evaluate.Metric):
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
            codebase_urls=["https://github.com/mjpost/sacreBLEU"],
            reference_urls=["https://aclanthology.org/W18-6319/"],
        )

    def _metric(self, smooth_method="exp", smooth_value=None, force=False, lowercase=False, tokenize=None,
                use_effective_order=False):
        return BLEU(lowercase=lowercase, force=force, tokenize=tokenize, smooth_method=smooth_method,
                    smooth_value=smooth_value, effective_order=use_effective_order)

    def _compute(self, predictions, references, smooth_method="exp", smooth_value=None, force=False,
                 lowercase=False, tokenize=None, use_effective_order=False):
        bleu = self._metric(smooth_method, smooth_value, force, lowercase, tokenize, use_effective_order)
        score = bleu.corpus_score(list(predictions), reference_streams(references))
        return {"score": score.score, "counts": score.counts, "totals": score.totals,
                "precisions": score.precisions, "bp": score.bp, "sys_len": score.sys_len, "ref_len": score.ref_len}

    def _item_statistics(self, predictions, references, **options):
        """sacrebleu's sufficient statistics per sentence; corpus BLEU is a function of their sum."""
        stats = self._metric(**options)._extract_corpus_statistics(list(predictions), reference_streams(references))
        return np.asarray(stats, dtype=np.float64)

    def _score_statistics(self, totals, count, **options):
        bleu = self._metric(**options)
        scores = [bleu._compute_score_from_stats(row) for row in totals]
        return {"score": np.array([s.score for s in scores]), "bp": np.array([s.bp for s in scores])}
