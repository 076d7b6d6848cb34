"""chrF and chrF++ as sacrebleu computes them: character (and word) n-gram F-scores over a corpus."""
import datasets
import evaluate
import numpy as np
from sacrebleu.metrics import CHRF

_DESCRIPTION = """
chrF (sacrebleu) is the F-score of character n-gram precision and recall (n = 1..char_order) over the
corpus, with recall weighted `beta` times as much as precision; word_order=2 adds word uni- and
bigrams (chrF++). `score` is on a 0-100 scale. With several references per prediction, each sentence
uses the best-matching one.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): predicted texts.
    references (`list` of `str` or `list` of `list` of `str`): one or more reference texts per prediction.
    char_order (`int`, default 6): the longest character n-gram.
    word_order (`int`, default 0): the longest word n-gram; 2 gives chrF++.
    beta (`int`, default 2): recall is this many times as important as precision.
    lowercase (`bool`, default False): compare lowercased texts.
    whitespace (`bool`, default False): keep whitespace in character n-grams.
    eps_smoothing (`bool`, default False): smooth zero n-gram matches as sacrebleu 1.x and chrF++.py did.
Returns:
    score (`float`): chrF, 0-100; with char_order, word_order and beta echoed.
Examples:
    >>> chrf = Chrf()
    >>> round(chrf.compute(predictions=["the cat sat"], references=[["the cat sat"]])["score"], 2)
    100.0
"""

_CITATION = """
@inproceedings{popovic-2015-chrf, title = "chr{F}: character n-gram {F}-score for automatic {MT} evaluation",
author = "Popovi{\\'c}, Maja", booktitle = "Proceedings of the Tenth Workshop on Statistical Machine Translation",
year = "2015", pages = "392--395"}
"""


def reference_streams(references):
    """sacrebleu wants one stream per reference position; pad rows with fewer references with None."""
    rows = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    width = max(len(row) for row in rows)
    return [[row[i] if i < len(row) else None for row in rows] for i in range(width)]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Chrf(evaluate.Metric):
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
            codebase_urls=["https://github.com/mjpost/sacreBLEU#chrf--chrf"],
            reference_urls=["https://aclanthology.org/W15-3049/"],
        )

    def _metric(self, char_order=6, word_order=0, beta=2, lowercase=False, whitespace=False, eps_smoothing=False):
        return CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase,
                    whitespace=whitespace, eps_smoothing=eps_smoothing)

    def _compute(self, predictions, references, char_order=6, word_order=0, beta=2, lowercase=False,
                 whitespace=False, eps_smoothing=False):
        chrf = self._metric(char_order, word_order, beta, lowercase, whitespace, eps_smoothing)
        score = chrf.corpus_score(list(predictions), reference_streams(references))
        return {"score": score.score, "char_order": score.char_order, "word_order": score.word_order,
                "beta": score.beta}

    def _item_statistics(self, predictions, references, **options):
        """sacrebleu's sufficient statistics per sentence; corpus chrF is a function of their sum."""
        stats = self._metric(**options)._extract_corpus_statistics(list(predictions), reference_streams(references))
        return np.asarray(stats, dtype=np.float64)

    def _score_statistics(self, totals, count, **options):
        chrf = self._metric(**options)
        return {"score": np.array([chrf._compute_score_from_stats(row).score for row in totals])}
