"""SQuAD v1.1: exact match and token F1 of extractive answers against every gold answer, as the
official evaluation script scores them (the best over a question's gold answers, means x 100)."""
import collections
import re
import string

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
The scores of the Stanford Question Answering Dataset v1.1: for each question the exact match (1 when
the normalised answer equals a normalised gold answer) and the F1 of their tokens, the best over its
gold answers; their means x 100. Normalisation lowercases, removes punctuation and the articles a, an,
the, and collapses whitespace.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `dict`): {"id": the question's id, "prediction_text": the answer}.
    references (`list` of `dict`): {"id": the question's id, "answers": {"text": [gold answers, at least
        one], "answer_start": [their character offsets]}}. Predictions and references pair up by id.
Returns:
    exact_match (`float`): 0 to 100.
    f1 (`float`): 0 to 100.
Examples:
    >>> squad = Squad()
    >>> squad.compute(predictions=[{"id": "q1", "prediction_text": "1976"}],
    ...               references=[{"id": "q1", "answers": {"text": ["1976"], "answer_start": [97]}}])
    {'exact_match': 100.0, 'f1': 100.0}
"""

_CITATION = """
@inproceedings{Rajpurkar2016SQuAD10, title={SQuAD: 100,000+ Questions for Machine Comprehension of Text},
author={Pranav Rajpurkar and Jian Zhang and Konstantin Lopyrev and Percy Liang}, booktitle={EMNLP}, year={2016}}
"""

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse whitespace (the official script's order)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact(gold: str, predicted: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(predicted))


def token_f1(gold: str, predicted: str) -> float:
    gold_tokens, predicted_tokens = normalize_answer(gold).split(), normalize_answer(predicted).split()
    same = sum((collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Squad(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                "references": {"id": datasets.Value("string"), "answers": datasets.features.Sequence(
                    {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")})},
            }),
            codebase_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references):
        scores = self._item_statistics(predictions, references)
        return {"exact_match": float(100.0 * scores[:, 0].mean()), "f1": float(100.0 * scores[:, 1].mean())}

    def _item_statistics(self, predictions, references):
        """One row per question (in the references' order): its exact match and F1, each the best over
        its gold answers."""
        answered = {prediction["id"]: prediction["prediction_text"] for prediction in predictions}
        rows = []
        for reference in references:
            predicted, golds = answered[reference["id"]], reference["answers"]["text"]
            rows.append((max(exact(gold, predicted) for gold in golds),
                         max(token_f1(gold, predicted) for gold in golds)))
        return np.asarray(rows, dtype=np.float64)

    def _score_statistics(self, totals, count):
        return {"exact_match": 100.0 * totals[:, 0] / count, "f1": 100.0 * totals[:, 1] / count}
