"""Every metric equals its reference implementation, on random inputs and on edge cases.

References: scikit-learn for label metrics, sacrebleu for BLEU and chrF, rouge-score for ROUGE, seqeval
for sequence labelling. Calls go through the same validation and module call the HTTP views use.
"""
import math
import warnings

import numpy as np
import pytest
import sacrebleu
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from sacrebleu.metrics import CHRF
from seqeval.metrics import accuracy_score as seq_accuracy
from seqeval.metrics import classification_report
from seqeval.scheme import IOB1, IOB2, IOBES
from sklearn import metrics as skm

from service import create_app
from service import scoring
from service.errors import ValidationFailed

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


def compute(name, predictions, references, **params):
    return scoring.compute_one(None, name, {"predictions": predictions, "references": references,
                                            "params": params})["result"]


def reference_or_error(function):
    try:
        return function()
    except ValueError:
        return ValueError


def ours_or_error(name, predictions, references, **params):
    try:
        return compute(name, predictions, references, **params)
    except ValidationFailed:
        return ValueError


# -- labels --------------------------------------------------------------------------------------
int_labels = st.integers(min_value=0, max_value=3)
str_labels = st.sampled_from(["cat", "dog", "bird", "fish"])


@st.composite
def label_pairs(draw):
    kind = draw(st.sampled_from([int_labels, str_labels]))
    size = draw(st.integers(min_value=1, max_value=60))
    return draw(st.lists(kind, min_size=size, max_size=size)), draw(st.lists(kind, min_size=size, max_size=size))


@SETTINGS
@given(label_pairs())
def test_accuracy_equals_scikit_learn(pair):
    predictions, references = pair
    assert compute("accuracy", predictions, references) == {"accuracy": skm.accuracy_score(references, predictions)}


@SETTINGS
@given(label_pairs(), st.sampled_from(["precision", "recall", "f1"]),
       st.sampled_from(["binary", "micro", "macro", "weighted"]), st.sampled_from([0, 1]), st.booleans())
def test_precision_recall_f1_equal_scikit_learn(pair, name, average, zero_division, restrict):
    predictions, references = pair
    params = {"average": average, "zero_division": zero_division}
    if restrict and average != "binary":
        params["labels"] = sorted(set(references))[:2]
    if average == "binary" and isinstance(references[0], str):
        params["pos_label"] = "cat"
    function = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[name]
    expected = reference_or_error(lambda: function(references, predictions, **params))
    ours = ours_or_error(name, predictions, references, **params)
    assert ours == (expected if expected is ValueError else {name: pytest.approx(expected, abs=1e-12)})


@SETTINGS
@given(label_pairs())
def test_matthews_and_confusion_matrix_equal_scikit_learn(pair):
    predictions, references = pair
    with warnings.catch_warnings():  # scikit-learn warns that a single label makes a 1x1 matrix
        warnings.simplefilter("ignore", UserWarning)
        expected_mcc = skm.matthews_corrcoef(references, predictions)
        expected_matrix = skm.confusion_matrix(references, predictions).tolist()
    assert compute("matthews_corrcoef", predictions, references) == {
        "matthews_corrcoef": pytest.approx(expected_mcc, abs=1e-12)}
    matrix = compute("confusion_matrix", predictions, references)
    assert matrix["confusion_matrix"] == expected_matrix
    assert matrix["labels"] == sorted(set(predictions) | set(references))


@pytest.mark.parametrize("predictions, references", [
    ([1], [1]), ([0], [1]), ([1, 1, 1], [1, 1, 1]), ([0, 0, 0], [0, 0, 0]), (["pos", "neg"], ["pos", "pos"]),
])
def test_label_edge_cases_equal_scikit_learn(predictions, references):
    pos_label = "pos" if isinstance(references[0], str) else 1
    for name, function in [("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)]:
        expected = function(references, predictions, pos_label=pos_label, zero_division=0)
        assert compute(name, predictions, references, pos_label=pos_label) == {name: expected}
    assert compute("accuracy", predictions, references)["accuracy"] == skm.accuracy_score(references, predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected_mcc = skm.matthews_corrcoef(references, predictions)
    assert compute("matthews_corrcoef", predictions, references)["matthews_corrcoef"] == expected_mcc


def test_the_seed_courses_example():
    predictions, references = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]
    assert compute("accuracy", predictions, references) == {"accuracy": 0.8}
    assert compute("f1", predictions, references) == {"f1": pytest.approx(0.8)}
    assert compute("precision", predictions, references)["precision"] == pytest.approx(0.6667, abs=5e-5)
    assert compute("recall", predictions, references) == {"recall": 1.0}


# -- texts ---------------------------------------------------------------------------------------
words = st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "Paris", "is", "big", ".", ",", "!"])
sentences = st.lists(words, max_size=12).map(" ".join)


@st.composite
def text_pairs(draw, multi=True):
    size = draw(st.integers(min_value=1, max_value=12))
    predictions = draw(st.lists(sentences, min_size=size, max_size=size))
    one_reference = sentences
    many_references = st.lists(sentences, min_size=1, max_size=3)
    reference = st.one_of(one_reference, many_references) if multi else one_reference
    return predictions, draw(st.lists(reference, min_size=size, max_size=size))


def streams(references):
    rows = [[r] if isinstance(r, str) else r for r in references]
    width = max(map(len, rows))
    return [[row[i] if i < len(row) else None for row in rows] for i in range(width)]


@SETTINGS
@given(text_pairs(), st.sampled_from(["exp", "floor", "add-k", "none"]), st.sampled_from(["13a", "intl", "char"]),
       st.booleans())
def test_bleu_equals_sacrebleu(pair, smooth_method, tokenize, lowercase):
    predictions, references = pair
    expected = sacrebleu.corpus_bleu(predictions, streams(references), smooth_method=smooth_method,
                                     tokenize=tokenize, lowercase=lowercase)
    ours = compute("bleu", predictions, references, smooth_method=smooth_method, tokenize=tokenize,
                   lowercase=lowercase)
    assert ours == {"score": expected.score, "counts": expected.counts, "totals": expected.totals,
                    "precisions": expected.precisions, "bp": expected.bp, "sys_len": expected.sys_len,
                    "ref_len": expected.ref_len}


@SETTINGS
@given(text_pairs(), st.sampled_from([0, 2]), st.booleans())
def test_chrf_equals_sacrebleu(pair, word_order, whitespace):
    predictions, references = pair
    expected = CHRF(word_order=word_order, whitespace=whitespace).corpus_score(predictions, streams(references))
    ours = compute("chrf", predictions, references, word_order=word_order, whitespace=whitespace)
    assert ours == {"score": expected.score, "char_order": 6, "word_order": word_order, "beta": 2}


@SETTINGS
@given(text_pairs(), st.booleans())
def test_rouge_equals_rouge_score(pair, use_stemmer):
    predictions, references = pair
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=use_stemmer)
    scores = [scorer.score(r, p) if isinstance(r, str) else scorer.score_multi(r, p)
              for p, r in zip(predictions, references)]
    ours = compute("rouge", predictions, references, use_stemmer=use_stemmer)
    assert ours == {t: pytest.approx(np.mean([s[t].fmeasure for s in scores]), abs=1e-12) for t in types}
    per_item = compute("rouge", predictions, references, use_stemmer=use_stemmer, use_aggregator=False)
    assert per_item["rouge1"] == [s["rouge1"].fmeasure for s in scores]


def evaluate_exact_match(predictions, references, regexes_to_ignore=(), ignore_case=False, ignore_punctuation=False,
                         ignore_numbers=False):
    """evaluate's exact_match algorithm (metrics/exact_match), restated with numpy's char functions."""
    import re
    import string
    predictions = np.array([p for p in predictions], dtype=object)
    references = np.array([r for r in references], dtype=object)
    for pattern in regexes_to_ignore:
        predictions = np.array([re.sub(pattern, "", x) for x in predictions])
        references = np.array([re.sub(pattern, "", x) for x in references])
    predictions, references = np.asarray(predictions, dtype=str), np.asarray(references, dtype=str)
    if ignore_case:
        predictions, references = np.char.lower(predictions), np.char.lower(references)
    if ignore_punctuation:
        table = str.maketrans("", "", string.punctuation)
        predictions, references = np.char.translate(predictions, table), np.char.translate(references, table)
    if ignore_numbers:
        table = str.maketrans("", "", string.digits)
        predictions, references = np.char.translate(predictions, table), np.char.translate(references, table)
    return float(np.mean(predictions == references))


@SETTINGS
@given(text_pairs(multi=False), st.booleans(), st.booleans(), st.booleans())
def test_exact_match_equals_evaluates_algorithm(pair, ignore_case, ignore_punctuation, ignore_numbers):
    predictions, references = pair
    options = dict(ignore_case=ignore_case, ignore_punctuation=ignore_punctuation, ignore_numbers=ignore_numbers)
    ours = compute("exact_match", predictions, references, regexes_to_ignore=["the "], **options)
    assert ours == {"exact_match": evaluate_exact_match(predictions, references, ["the "], **options)}


def test_exact_match_whitespace_option_collapses_runs_and_trims():
    assert compute("exact_match", [" the  cat\t"], ["the cat"], ignore_whitespace=True) == {"exact_match": 1.0}
    assert compute("exact_match", [" the  cat\t"], ["the cat"]) == {"exact_match": 0.0}


@pytest.mark.parametrize("name", ["bleu", "chrf", "rouge", "exact_match"])
def test_empty_predictions_score_like_the_reference(name):
    predictions, references = ["", ""], ["the cat sat", "a dog"]
    result = compute(name, predictions, references)
    expected = {"bleu": sacrebleu.corpus_bleu(predictions, [references]).score,
                "chrf": sacrebleu.corpus_chrf(predictions, [references]).score}
    if name in expected:
        assert result["score"] == expected[name] == 0.0
    else:
        assert all(value == 0.0 for value in result.values())


# -- sequence labelling ----------------------------------------------------------------------------
SCHEME_TAGS = {"IOB1": ["O", "B-PER", "I-PER", "I-LOC", "B-LOC"], "IOB2": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
               "IOBES": ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC", "B-LOC", "E-LOC"]}
SCHEMES = {"IOB1": IOB1, "IOB2": IOB2, "IOBES": IOBES}


@st.composite
def tag_pairs(draw, tags):
    lengths = draw(st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=8))
    tag = st.sampled_from(tags)
    return ([draw(st.lists(tag, min_size=n, max_size=n)) for n in lengths],
            [draw(st.lists(tag, min_size=n, max_size=n)) for n in lengths])


def seqeval_reference(predictions, references, **options):
    """seqeval's classification_report in the layout evaluate's seqeval metric gives it."""
    with warnings.catch_warnings():  # its macro average (dropped here) warns when no entity occurs
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(references, predictions, output_dict=True, **options)
    overall = report.pop("micro avg")
    report.pop("macro avg"), report.pop("weighted avg")
    result = {name: {"precision": s["precision"], "recall": s["recall"], "f1": s["f1-score"], "number": s["support"]}
              for name, s in report.items()}
    result.update(overall_precision=overall["precision"], overall_recall=overall["recall"],
                  overall_f1=overall["f1-score"], overall_accuracy=seq_accuracy(references, predictions))
    return result


@SETTINGS
@given(tag_pairs(SCHEME_TAGS["IOBES"]), st.sampled_from([0, 1]))
def test_seqeval_default_mode_equals_seqeval(pair, zero_division):
    predictions, references = pair
    assert compute("seqeval", predictions, references, zero_division=zero_division) == \
        seqeval_reference(predictions, references, zero_division=zero_division)


@SETTINGS
@given(st.sampled_from(list(SCHEMES)).flatmap(lambda s: st.tuples(st.just(s), tag_pairs(SCHEME_TAGS[s]))))
def test_seqeval_strict_mode_equals_seqeval(case):
    scheme, (predictions, references) = case
    expected = reference_or_error(lambda: seqeval_reference(predictions, references, zero_division=0,
                                                            mode="strict", scheme=SCHEMES[scheme]))
    ours = ours_or_error("seqeval", predictions, references, mode="strict", scheme=scheme)
    assert ours == expected


def test_seqeval_suffix_tags():
    predictions, references = [["PER-B", "PER-I", "O"]], [["PER-B", "PER-I", "O"]]
    assert compute("seqeval", predictions, references, suffix=True) == \
        seqeval_reference(predictions, references, suffix=True, zero_division=0)


@pytest.mark.parametrize("predictions, references", [
    ([["O"]], [["O"]]), ([["B-PER"]], [["O"]]), ([["O", "O"]], [["B-LOC", "I-LOC"]]),
])
def test_seqeval_edge_cases(predictions, references):
    assert compute("seqeval", predictions, references) == seqeval_reference(predictions, references, zero_division=0)


def test_results_are_plain_json_numbers():
    result = compute("seqeval", [["B-PER", "O"]], [["B-PER", "O"]])
    assert all(type(v) is float for k, v in result.items() if k.startswith("overall"))
    assert all(not isinstance(v, float) or math.isfinite(v) for v in compute("bleu", ["a"], ["a"]).values())
