"""TER as sacrebleu computes it: the edits (insertions, deletions, substitutions, shifts) that turn
each prediction into its closest reference, over the references' average length, corpus-level."""
import datasets
import evaluate
import numpy as np
from sacrebleu.metrics import TER

_DESCRIPTION = """
Translation Edit Rate (sacrebleu's TER): the number of edits, shifts of word sequences included, that
turn each prediction into its closest reference, summed over the corpus, over the summed average
reference lengths, x 100. 0 is perfect, lower is better; it can exceed 100.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the texts to score.
    references (`list` of `str` or `list` of `list` of `str`): one or more reference texts per prediction.
    normalized (`bool`, default False): normalise and tokenize punctuation first.
    ignore_punct (`bool`, default False): remove punctuation first.
    support_zh_ja_chars (`bool`, default False): split Chinese and Japanese characters when normalizing.
    case_sensitive (`bool`, default False): keep case (TER lowercases by default).
Returns:
    score (`float`): TER, 0 or more. num_edits (`int`): the edits. ref_length (`float`): the summed
    average reference length.
Examples:
    >>> ter = Ter()
    >>> ter.compute(predictions=["does this sentence match??", "what about this sentence?"],
    ...             references=[["does this sentence match", "does this sentence match!?!"],
    ...                         ["wHaT aBoUt ThIs SeNtEnCe?", "wHaT aBoUt ThIs SeNtEnCe?"]],
    ...             case_sensitive=True)
    {'score': 62.5, 'num_edits': 5, 'ref_length': 8.0}
"""

_CITATION = """
@inproceedings{snover-etal-2006-study, title = "A Study of Translation Edit Rate with Targeted Human Annotation",
author = "Snover, Matthew and Dorr, Bonnie and Schwartz, Rich and Micciulla, Linnea and Makhoul, John",
booktitle = "Proceedings of AMTA", year = "2006", pages = "223--231"}
"""


def reference_streams(references):
    """sacrebleu wants one stream per reference position; pad rows with fewer references with None."""
    rows = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    width = max(len(row) for row in rows)
    return [[row[i] if i < len(row) else None for row in rows] for i in range(width)]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Ter(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Sequence(datasets.Value("string"))}),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
            codebase_urls=["https://github.com/mjpost/sacreBLEU#ter"],
            reference_urls=["https://aclanthology.org/2006.amta-papers.25"],
        )

    def _metric(self, normalized=False, ignore_punct=False, support_zh_ja_chars=False, case_sensitive=False):
        return TER(normalized=normalized, no_punct=ignore_punct, asian_support=support_zh_ja_chars,
                   case_sensitive=case_sensitive)

    def _compute(self, predictions, references, normalized=False, ignore_punct=False, support_zh_ja_chars=False,
                 case_sensitive=False):
        ter = self._metric(normalized, ignore_punct, support_zh_ja_chars, case_sensitive)
        score = ter.corpus_score(list(predictions), reference_streams(references))
        return {"score": score.score, "num_edits": score.num_edits, "ref_length": score.ref_length}

    def _item_statistics(self, predictions, references, **options):
        """sacrebleu's statistics per sentence (its edits, its average reference length)."""
        stats = self._metric(**options)._extract_corpus_statistics(list(predictions), reference_streams(references))
        return np.asarray(stats, dtype=np.float64)

    def _score_statistics(self, totals, count, **options):
        ter = self._metric(**options)
        return {"score": np.array([ter._compute_score_from_stats(row).score for row in totals])}
