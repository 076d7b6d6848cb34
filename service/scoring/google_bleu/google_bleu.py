"""Google BLEU (GLEU) as nltk's corpus_gleu computes it on sacrebleu's 13a tokens, as evaluate's module."""
from collections import Counter

import datasets
import evaluate
import numpy as np
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_DESCRIPTION = """
Google BLEU (GLEU, Wu et al. 2016): for each prediction, the n-grams (min_len to max_len) it shares
with a reference over the larger of its own and the reference's n-gram counts, with the reference that
scores best; corpus GLEU is the summed matches over the summed counts. 0 to 1, higher is better; unlike
BLEU it is meaningful on single sentences. Texts are split with sacrebleu's 13a tokenizer.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the texts to score.
    references (`list` of `str` or `list` of `list` of `str`): one or more reference texts per prediction.
    min_len (`int`, default 1): the shortest n-gram.
    max_len (`int`, default 4): the longest n-gram.
Returns:
    google_bleu (`float`): 0 to 1.
Examples:
    >>> gleu = GoogleBleu()
    >>> round(gleu.compute(predictions=["the cat sat on the mat"], references=[["the cat sat on a mat"]])["google_bleu"], 4)
    0.6111
"""

_CITATION = """
@misc{wu2016googles, title={Google's Neural Machine Translation System: Bridging the Gap between Human and
Machine Translation}, author={Yonghui Wu and others}, year={2016}, eprint={1609.08144}, archivePrefix={arXiv}}
"""

_TOKENIZE = Tokenizer13a()


def tokens(text: str) -> list[str]:
    return _TOKENIZE(text).split()


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class GoogleBleu(evaluate.Metric):
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
            reference_urls=["https://www.nltk.org/api/nltk.translate.gleu_score.html"],
        )

    def _compute(self, predictions, references, min_len=1, max_len=4):
        from nltk.translate import gleu_score  # on first use: nltk is ~25 MB a worker (service.share_imports)
        rows = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
        return {"google_bleu": float(gleu_score.corpus_gleu(
            list_of_references=[[tokens(r) for r in row] for row in rows],
            hypotheses=[tokens(p) for p in predictions], min_len=min_len, max_len=max_len))}

    def _item_statistics(self, predictions, references, min_len=1, max_len=4):
        """Per prediction, corpus_gleu's own terms: the matches and the count of its best reference."""
        from nltk.util import everygrams
        rows = []
        for prediction, refs in zip(predictions, references):
            hypothesis = Counter(everygrams(tokens(prediction), min_len, max_len))
            found = []
            for reference in [refs] if isinstance(refs, str) else refs:
                grams = Counter(everygrams(tokens(reference), min_len, max_len))
                count = max(sum(hypothesis.values()), sum(grams.values()))
                if count > 0:
                    found.append((sum((grams & hypothesis).values()), count))
            rows.append(max(found, key=lambda pair: pair[0] / pair[1]) if found else (0, 0))
        return np.asarray(rows, dtype=np.float64)

    def _score_statistics(self, totals, count, min_len=1, max_len=4):
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"google_bleu": np.where(totals[:, 1] > 0, totals[:, 0] / np.where(totals[:, 1] > 0, totals[:, 1], 1), 0.0)}
