"""SQuAD v2.0: exact match and token F1 with unanswerable questions, as the official evaluation
script scores them: a question is scored as abstained when its no-answer probability is over the
threshold; the best thresholds for exact match and F1 are found as well."""
import collections
import re
import string

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
The scores of the Stanford Question Answering Dataset v2.0, where some questions have no answer. Per
question: exact match and token F1 against its gold answers (an unanswerable question's gold answer is
the empty string); where no_answer_probability is over no_answer_threshold the system abstains, which
scores 1 on an unanswerable question and 0 on the others. Means x 100 over all questions, and over
those with (HasAns_) and without (NoAns_) an answer; best_exact and best_f1 are the scores at the
threshold that would maximise them, with those thresholds.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `dict`): {"id", "prediction_text" (empty: no answer), "no_answer_probability"}.
    references (`list` of `dict`): {"id", "answers": {"text": [gold answers; none for an unanswerable
        question], "answer_start": [...]}}. Predictions and references pair up by id.
    no_answer_threshold (`float`, default 1.0): abstain where no_answer_probability is above it.
Returns:
    exact, f1 (`float`, 0 to 100), total (`int`); HasAns_exact, HasAns_f1, HasAns_total and NoAns_exact,
    NoAns_f1, NoAns_total where there are such questions; best_exact, best_exact_thresh, best_f1,
    best_f1_thresh.
Examples:
    >>> squad_v2 = SquadV2()
    >>> squad_v2.compute(predictions=[{"id": "q1", "prediction_text": "1976", "no_answer_probability": 0.0}],
    ...                  references=[{"id": "q1", "answers": {"text": ["1976"], "answer_start": [97]}}])
    {'exact': 100.0, 'f1': 100.0, 'total': 1, 'HasAns_exact': 100.0, 'HasAns_f1': 100.0, 'HasAns_total': 1, 'best_exact': 100.0, 'best_exact_thresh': 0.0, 'best_f1': 100.0, 'best_f1_thresh': 0.0}
"""

_CITATION = """
@inproceedings{Rajpurkar2018SQuAD2, title={Know What You Don't Know: Unanswerable Questions for SQuAD},
author={Pranav Rajpurkar and Robin Jia and Percy Liang}, booktitle={ACL}, year={2018}}
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
    if not gold_tokens or not predicted_tokens:  # either says "no answer": right only if both do
        return float(gold_tokens == predicted_tokens)
    same = sum((collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _best_threshold(raw, has_answer, answered, probabilities, order):
    """The official search: abstain below each probability in turn (ties in the predictions' order,
    as the script's stable sort of its dictionary), keep the best total."""
    score = best = float(np.sum(~has_answer))
    threshold = 0.0
    for index in order[np.argsort(probabilities[order], kind="stable")]:
        score += raw[index] if has_answer[index] else (-1.0 if answered[index] else 0.0)
        if score > best:
            best, threshold = score, float(probabilities[index])
    return float(100.0 * best / len(raw)), threshold


def _statistics(raw, has_answer, probabilities, no_answer_threshold):
    """Per question: exact and F1 after the threshold (abstaining scores 1 on an unanswerable question,
    0 on the others), each again on questions with an answer and the count of those, and on those
    without and their count."""
    abstains = probabilities > no_answer_threshold
    scored = np.where(abstains[:, None], (~has_answer).astype(np.float64)[:, None], raw)
    has, no = has_answer.astype(np.float64)[:, None], (~has_answer).astype(np.float64)[:, None]
    return np.hstack([scored, scored * has, has, scored * no, no])


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SquadV2(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string"),
                                "no_answer_probability": datasets.Value("float64")},
                "references": {"id": datasets.Value("string"), "answers": datasets.features.Sequence(
                    {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")})},
            }),
            codebase_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references, no_answer_threshold=1.0):
        raw, has_answer, answered, probabilities = self._raw(predictions, references)
        scored = _statistics(raw, has_answer, probabilities, no_answer_threshold)
        position = {reference["id"]: index for index, reference in enumerate(references)}
        order = np.asarray([position[prediction["id"]] for prediction in predictions])
        result = {"exact": float(100.0 * scored[:, 0].mean()), "f1": float(100.0 * scored[:, 1].mean()),
                  "total": len(references)}
        for prefix, subset in (("HasAns", has_answer), ("NoAns", ~has_answer)):
            if subset.any():
                result.update({f"{prefix}_exact": float(100.0 * scored[subset, 0].mean()),
                               f"{prefix}_f1": float(100.0 * scored[subset, 1].mean()),
                               f"{prefix}_total": int(subset.sum())})
        for key, column in (("exact", 0), ("f1", 1)):
            best, threshold = _best_threshold(raw[:, column], has_answer, answered, probabilities, order)
            result[f"best_{key}"], result[f"best_{key}_thresh"] = best, threshold
        return result

    def _raw(self, predictions, references):
        """Per question (in the references' order): raw exact and F1, whether it has an answer, whether
        the system gave one, and its no-answer probability."""
        by_id = {prediction["id"]: prediction for prediction in predictions}
        raw, has_answer, answered, probabilities = [], [], [], []
        for reference in references:
            prediction = by_id[reference["id"]]
            golds = [text for text in reference["answers"]["text"] if normalize_answer(text)] or [""]
            text = prediction["prediction_text"]
            raw.append((max(exact(gold, text) for gold in golds), max(token_f1(gold, text) for gold in golds)))
            has_answer.append(bool(reference["answers"]["text"]))
            answered.append(bool(text))
            probabilities.append(prediction["no_answer_probability"])
        return (np.asarray(raw, dtype=np.float64), np.asarray(has_answer), np.asarray(answered),
                np.asarray(probabilities, dtype=np.float64))

    def _item_statistics(self, predictions, references, no_answer_threshold=1.0):
        """One row per question: exact and F1 after the threshold, and their values on questions with and
        without an answer with the count of each (the HasAns_ and NoAns_ means of a resample)."""
        raw, has_answer, _, probabilities = self._raw(predictions, references)
        return _statistics(raw, has_answer, probabilities, no_answer_threshold)

    def _score_statistics(self, totals, count, no_answer_threshold=1.0):
        scores = {"exact": 100.0 * totals[:, 0] / count, "f1": 100.0 * totals[:, 1] / count}
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample without such questions
            for prefix, (columns, size) in (("HasAns", (slice(2, 4), 4)), ("NoAns", (slice(5, 7), 7))):
                part = totals[:, columns] / totals[:, size:size + 1]
                scores[f"{prefix}_exact"], scores[f"{prefix}_f1"] = 100.0 * part[:, 0], 100.0 * part[:, 1]
        return scores
