"""squad and squad_v2 equal the official SQuAD evaluation scripts (v1.1 and v2.0, which evaluate's
modules wrap) on random answers and on the documented examples; ids pair predictions with references,
and a missing or unknown id is a 422 naming it.

The reference below restates the official scripts' published steps (normalise, exact match, token
F1, best over gold answers; v2's no-answer threshold and best-threshold search) on their own data
shape (`dataset` of articles, `preds` by id), so the service's per-question arrays are checked
against the scripts' dictionaries.
"""
import collections
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app, scoring
from service.errors import ValidationFailed

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = ["the", "a", "Eiffel", "tower", "Paris", "1976", "June,", "park", "an", "open!", "Tower"]


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


# -- the official scripts' steps --------------------------------------------------------------------
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def v1_f1(prediction, ground_truth):
    prediction_tokens, ground_truth_tokens = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision, recall = num_same / len(prediction_tokens), num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def v1_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                ground_truths = qa["answers"]["text"]
                prediction = predictions[qa["id"]]
                exact_match += max(normalize_answer(prediction) == normalize_answer(g) for g in ground_truths)
                f1 += max(v1_f1(prediction, g) for g in ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def get_tokens(s):
    return normalize_answer(s).split() if s else []


def v2_f1(a_gold, a_pred):
    gold_toks, pred_toks = get_tokens(a_gold), get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision, recall = num_same / len(pred_toks), num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def v2_evaluate(dataset, preds, na_probs, na_prob_thresh=1.0):
    qid_to_has_ans = {qa["id"]: bool(qa["answers"]["text"]) for a in dataset for p in a["paragraphs"] for qa in p["qas"]}
    exact_raw, f1_raw = {}, {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                gold_answers = [t for t in qa["answers"]["text"] if normalize_answer(t)] or [""]
                a_pred = preds[qa["id"]]
                exact_raw[qa["id"]] = max(int(normalize_answer(a) == normalize_answer(a_pred)) for a in gold_answers)
                f1_raw[qa["id"]] = max(v2_f1(a, a_pred) for a in gold_answers)

    def thresholded(scores):
        return {qid: float(not qid_to_has_ans[qid]) if na_probs[qid] > na_prob_thresh else s for qid, s in scores.items()}

    def eval_dict(exact, f1, qid_list=None):
        qids = qid_list or list(exact)
        return {"exact": 100.0 * sum(exact[k] for k in qids) / len(qids),
                "f1": 100.0 * sum(f1[k] for k in qids) / len(qids), "total": len(qids)}

    exact_t, f1_t = thresholded(exact_raw), thresholded(f1_raw)
    out = eval_dict(exact_t, f1_t)
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [k for k, v in qid_to_has_ans.items() if v == wanted]
        if qids:
            out.update({f"{prefix}_{k}": v for k, v in eval_dict(exact_t, f1_t, qids).items()})

    def best_thresh(scores):
        cur_score = best_score = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
        best = 0.0
        for qid in sorted(na_probs, key=lambda k: na_probs[k]):
            diff = scores[qid] if qid_to_has_ans[qid] else (-1 if preds[qid] else 0)
            cur_score += diff
            if cur_score > best_score:
                best_score, best = cur_score, na_probs[qid]
        return 100.0 * best_score / len(scores), best

    out["best_exact"], out["best_exact_thresh"] = best_thresh(exact_raw)
    out["best_f1"], out["best_f1_thresh"] = best_thresh(f1_raw)
    return out


def compute(name, predictions, references, **params):
    return scoring.compute_one(None, name, {"predictions": predictions, "references": references,
                                            "params": params})["result"]


# -- equality with the scripts ------------------------------------------------------------------------
phrase = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)


@SETTINGS
@given(st.data())
def test_squad_equals_the_official_v1_script(data):
    n = data.draw(st.integers(min_value=1, max_value=12))
    references = [{"id": f"q{i}", "answers": {"text": golds, "answer_start": [0] * len(golds)}}
                  for i, golds in enumerate(data.draw(st.lists(phrase, min_size=1, max_size=3)) for _ in range(n))]
    predictions = [{"id": f"q{i}", "prediction_text": data.draw(phrase)} for i in data.draw(st.permutations(range(n)))]
    expected = v1_evaluate([{"paragraphs": [{"qas": references}]}], {p["id"]: p["prediction_text"] for p in predictions})
    assert compute("squad", predictions, references) == pytest.approx(expected)


@SETTINGS
@given(st.data())
def test_squad_v2_equals_the_official_v2_script(data):
    n = data.draw(st.integers(min_value=1, max_value=12))
    references = [{"id": f"q{i}", "answers": {"text": golds, "answer_start": [0] * len(golds)}}
                  for i, golds in enumerate(data.draw(st.lists(phrase, max_size=3)) for _ in range(n))]
    probability = st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.9, 1.0])  # ties on purpose
    predictions = [{"id": f"q{i}", "prediction_text": data.draw(phrase), "no_answer_probability": data.draw(probability)}
                   for i in data.draw(st.permutations(range(n)))]
    threshold = data.draw(st.sampled_from([None, 0.0, 0.5, 1.0]))
    params = {} if threshold is None else {"no_answer_threshold": threshold}
    expected = v2_evaluate([{"paragraphs": [{"qas": references}]}], {p["id"]: p["prediction_text"] for p in predictions},
                           {p["id"]: p["no_answer_probability"] for p in predictions}, 1.0 if threshold is None else threshold)
    ours = compute("squad_v2", predictions, references, **params)
    assert ours.keys() == expected.keys()
    assert ours == pytest.approx(expected)


def test_the_documented_examples():
    assert compute("squad", [{"id": "56e10a3be3433e1400422b22", "prediction_text": "1976"}],
                   [{"id": "56e10a3be3433e1400422b22", "answers": {"text": ["1976"], "answer_start": [97]}}]) == \
        {"exact_match": 100.0, "f1": 100.0}
    assert compute("squad_v2", [{"id": "56e10a3be3433e1400422b22", "prediction_text": "1976", "no_answer_probability": 0.0}],
                   [{"id": "56e10a3be3433e1400422b22", "answers": {"text": ["1976"], "answer_start": [97]}}]) == {
        "exact": 100.0, "f1": 100.0, "total": 1, "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 1,
        "best_exact": 100.0, "best_exact_thresh": 0.0, "best_f1": 100.0, "best_f1_thresh": 0.0}
    # An unanswerable question only: the empty answer is right, any other wrong.
    only_no_answer = [{"id": "q", "answers": {"text": [], "answer_start": []}}]
    assert compute("squad_v2", [{"id": "q", "prediction_text": "", "no_answer_probability": 0.2}],
                   only_no_answer)["NoAns_exact"] == 100.0
    assert compute("squad_v2", [{"id": "q", "prediction_text": "x", "no_answer_probability": 0.2}],
                   only_no_answer)["exact"] == 0.0


ANSWER = {"id": "q1", "prediction_text": "Paris"}
QUESTION = {"id": "q1", "answers": {"text": ["Paris"], "answer_start": [0]}}


@pytest.mark.parametrize("name, predictions, references, field, words", [
    ("squad", [ANSWER], [QUESTION, {**QUESTION, "id": "q2"}], "predictions", "'q2'"),
    ("squad", [ANSWER, {**ANSWER, "id": "q9"}], [QUESTION], "predictions", "'q9'"),
    ("squad", [ANSWER, ANSWER], [QUESTION], "predictions", "same id"),
    ("squad", [ANSWER], [{**QUESTION, "answers": {"text": [], "answer_start": []}}], "references", "no gold answer"),
    ("squad", [{"id": "q1"}], [QUESTION], "predictions", "prediction_text"),
    ("squad", [{**ANSWER, "extra": 1}], [QUESTION], "predictions", "extra"),
    ("squad", [{**ANSWER, "id": 1}], [QUESTION], "predictions", "id"),
    ("squad", [ANSWER], [{**QUESTION, "answers": {"text": ["a", "b"], "answer_start": [0]}}], "references", "same length"),
    ("squad", ["Paris"], [QUESTION], "predictions", "object"),
    ("squad_v2", [ANSWER], [QUESTION], "predictions", "no_answer_probability"),
    ("squad_v2", [{**ANSWER, "no_answer_probability": 1.5}], [QUESTION], "predictions", "0 to 1"),
    ("squad_v2", [{**ANSWER, "no_answer_probability": True}], [QUESTION], "predictions", "0 to 1"),
])
def test_answers_that_do_not_pair_up_or_hold_the_wrong_shape_are_a_422(name, predictions, references, field, words):
    with pytest.raises(ValidationFailed) as raised:
        compute(name, predictions, references)
    assert field in raised.value.errors and words in raised.value.errors[field][0]


def test_intervals_and_comparison():
    references = [{"id": f"q{i}", "answers": {"text": [f"answer {i}"], "answer_start": [0]}} for i in range(60)]
    right = [{"id": f"q{i}", "prediction_text": f"answer {i}" if i % 4 else "wrong"} for i in range(60)]
    wrong = [{"id": f"q{i}", "prediction_text": f"answer {i}" if i % 2 else "wrong"} for i in range(60)]
    answer = scoring.compute_one(None, "squad", {"predictions": right, "references": references,
                                                 "confidence": {"method": "bootstrap", "seed": 2, "resamples": 300,
                                                                "level": 0.95}})
    for key in ("exact_match", "f1"):
        interval = answer["confidence_intervals"][key]
        assert interval["low"] <= answer["result"][key] <= interval["high"]
    compared = scoring.compare(None, {"metric": "squad", "references": references, "predictions_a": wrong,
                                      "predictions_b": right, "level": 0.95, "resamples": 300, "seed": 1})
    assert compared["key"] == "f1" and compared["difference"] == pytest.approx(25.0) and compared["p_value"] < 0.05


def test_squad_and_squad_v2_read_their_answers_each_in_one_request():
    answers = scoring.compute_many(None, {"metrics": [{"name": "squad_v2", "params": {}}, {"name": "squad", "params": {}}],
                                          "predictions": [{**ANSWER, "no_answer_probability": 0.1}],
                                          "references": [QUESTION]})
    # squad checks no_answer_probability and leaves it aside: the same answers score on both
    assert [(r["metric"], r["result"]["f1"]) for r in answers["results"]] == [("squad_v2", 100.0), ("squad", 100.0)]
