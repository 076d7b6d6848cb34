"""Bootstrap intervals, paired comparisons and fairness: the statistics behind the numbers."""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from service import scoring
from service.errors import PayloadTooLarge, ValidationFailed
from service.scoring import loader

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = "the cat sat on a mat dog ran far away".split()


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


def labelled(n, accuracy, seed=0):
    rng = random.Random(seed)
    references = [rng.randint(0, 1) for _ in range(n)]
    predictions = [r if rng.random() < accuracy else 1 - r for r in references]
    return predictions, references


def texts(n, agreement, seed=0):
    rng = random.Random(seed)
    references = [" ".join(rng.choices(WORDS, k=8)) for _ in range(n)]
    predictions = [r if rng.random() < agreement else " ".join(rng.choices(WORDS, k=8)) for r in references]
    return predictions, references


def tags(n, agreement, seed=0):
    rng = random.Random(seed)
    tagset = ["O", "B-PER", "I-PER", "B-LOC"]
    references = [[rng.choice(tagset) for _ in range(6)] for _ in range(n)]
    predictions = [[t if rng.random() < agreement else rng.choice(tagset) for t in s] for s in references]
    return predictions, references


DATA = {"accuracy": labelled, "f1": labelled, "matthews_corrcoef": labelled, "exact_match": texts, "bleu": texts,
        "chrf": texts, "rouge": texts, "seqeval": tags}


def scored(name, predictions, references, seed=7, resamples=300, level=0.95):
    return scoring.compute_one(None, name, {
        "predictions": predictions, "references": references,
        "confidence": {"method": "bootstrap", "seed": seed, "resamples": resamples, "level": level}})


@pytest.mark.parametrize("name", sorted(DATA))
def test_interval_contains_the_point_estimate_and_narrows_as_data_grows(name):
    widths = []
    for n in (60, 600):
        answer = scored(name, *DATA[name](n, 0.7))
        assert answer["confidence_intervals"]
        for key, interval in answer["confidence_intervals"].items():
            assert interval["low"] <= answer["result"][key] <= interval["high"], key
            assert interval["level"] == 0.95
        primary = scoring.spec_for(name).primary
        widths.append(answer["confidence_intervals"][primary]["high"] - answer["confidence_intervals"][primary]["low"])
    assert widths[1] < widths[0]


@pytest.mark.parametrize("name", ["accuracy", "bleu", "seqeval"])
def test_the_same_seed_gives_the_same_interval(name):
    data = DATA[name](80, 0.6)
    first, again, other = scored(name, *data, seed=3), scored(name, *data, seed=3), scored(name, *data, seed=4)
    assert first["confidence_intervals"] == again["confidence_intervals"]
    assert first["confidence_intervals"] != other["confidence_intervals"]
    assert first["confidence"] == {"method": "bootstrap", "level": 0.95, "resamples": 300, "seed": 3}


def test_a_seed_is_chosen_and_echoed_when_none_is_given():
    answer = scoring.compute_one(None, "accuracy", {"predictions": [0, 1], "references": [0, 0],
                                                    "confidence": {"level": 0.9, "resamples": 50}})
    seed = answer["confidence"]["seed"]
    again = scored("accuracy", [0, 1], [0, 0], seed=seed, resamples=50, level=0.9)
    assert again["confidence_intervals"] == answer["confidence_intervals"]


def test_a_higher_level_gives_a_wider_interval():
    data = labelled(200, 0.7)
    narrow = scored("accuracy", *data, level=0.5)["confidence_intervals"]["accuracy"]
    wide = scored("accuracy", *data, level=0.99)["confidence_intervals"]["accuracy"]
    assert wide["low"] <= narrow["low"] and narrow["high"] <= wide["high"]


def test_confusion_matrix_has_nothing_to_bootstrap():
    with pytest.raises(ValidationFailed, match="no scalar result"):
        scored("confusion_matrix", [0, 1], [0, 1])


def test_too_many_draws_is_payload_too_large(monkeypatch):
    from flask import current_app
    monkeypatch.setitem(current_app.config, "MAX_BOOTSTRAP_DRAWS", 1000)
    with pytest.raises(PayloadTooLarge, match="resamples"):
        scored("bleu", *texts(20, 0.5), resamples=100)


# -- the replicates are the metric itself -------------------------------------------------------
@SETTINGS
@given(st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(*[st.lists(st.integers(0, 2), min_size=n, max_size=n)] * 2)),
    st.sampled_from(["accuracy", "f1", "precision", "recall", "matthews_corrcoef"]))
def test_cell_counts_as_weights_equal_the_metric_on_all_items(pair, name):
    """The weighted bootstrap is exact: a replicate is the metric on the redrawn items."""
    predictions, references = map(np.asarray, pair)
    params = {} if name in ("accuracy", "matthews_corrcoef") else {"average": "macro"}
    module = loader.module(name)
    cells, counts = np.unique(np.stack([references, predictions], 1), axis=0, return_counts=True)
    weighted = module._compute(predictions=cells[:, 1], references=cells[:, 0], sample_weight=counts, **params)
    assert weighted == pytest.approx(module._compute(predictions=predictions, references=references, **params))


sentence = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
tag_sentence = st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "S-LOC", "E-PER"]), min_size=3, max_size=3)


@SETTINGS
@given(st.sampled_from(["bleu", "chrf", "rouge", "exact_match", "seqeval"]), st.data())
def test_summed_item_statistics_give_the_metric(name, data):
    """The additive bootstrap scores redrawn items with the module's own formula; on all items it is the metric."""
    element = tag_sentence if name == "seqeval" else sentence
    n = data.draw(st.integers(min_value=1, max_value=15))
    predictions, references = (data.draw(st.lists(element, min_size=n, max_size=n)) for _ in range(2))
    module = loader.module(name)
    statistics = module._item_statistics(predictions, references)
    replicate = module._score_statistics(statistics.sum(0, keepdims=True), n)
    result = module._compute(predictions=predictions, references=references)
    assert {key: values[0] for key, values in replicate.items()} == pytest.approx({k: result[k] for k in replicate})


# -- compare ----------------------------------------------------------------------------------------
def compare(name, references, a, b, **extra):
    return scoring.compare(None, {"metric": name, "references": references, "predictions_a": a,
                                  "predictions_b": b, "level": 0.95, "resamples": 1000, "seed": 11, **extra})


def test_compare_finds_a_planted_difference_in_accuracy():
    a, references = labelled(300, 0.70, seed=1)
    b, _ = labelled(300, 0.92, seed=1)
    answer = compare("accuracy", references, a, b)
    assert answer["difference"] == pytest.approx(answer["b"] - answer["a"])
    assert answer["difference"] > 0.1 and answer["p_value"] < 0.01
    assert 0 < answer["confidence_interval"]["low"] <= answer["difference"] <= answer["confidence_interval"]["high"]
    assert answer["mcnemar"]["p_value"] < 0.01
    assert answer["mcnemar"]["a_wrong_b_correct"] > answer["mcnemar"]["a_correct_b_wrong"]


@pytest.mark.parametrize("name", ["accuracy", "f1", "bleu", "rouge", "seqeval"])
def test_compare_finds_no_difference_between_a_set_and_itself(name):
    predictions, references = DATA[name](100, 0.7)
    answer = compare(name, references, predictions, predictions)
    assert answer["difference"] == 0
    assert answer["p_value"] == 1.0
    assert answer["confidence_interval"]["low"] == answer["confidence_interval"]["high"] == 0


@pytest.mark.parametrize("name", ["bleu", "seqeval", "exact_match"])
def test_compare_finds_a_planted_difference_in_text_metrics(name):
    worse, references = DATA[name](150, 0.3, seed=2)
    better, _ = DATA[name](150, 0.9, seed=2)
    assert compare(name, references, worse, better)["p_value"] < 0.01


def test_compare_reports_the_key_asked_for_and_rejects_others():
    predictions, references = texts(30, 0.5)
    assert compare("rouge", references, predictions, references, key="rouge2")["key"] == "rouge2"
    with pytest.raises(ValidationFailed, match="no scalar result 'counts'"):
        compare("bleu", references, predictions, references, key="counts")


def test_mcnemar_matches_a_binomial_test_on_discordant_pairs():
    from scipy.stats import binomtest
    references, a, b = [1] * 12, [1] * 10 + [0] * 2, [1] * 4 + [0] * 8
    result = compare("accuracy", references, a, b)["mcnemar"]
    assert result == {"a_correct_b_wrong": 6, "a_wrong_b_correct": 0, "p_value": binomtest(0, 6, 0.5).pvalue}


# -- fairness -----------------------------------------------------------------------------------------
def test_fairness_per_group_metric_parity_and_opportunity():
    answer = scoring.fairness(None, {
        "predictions": [1, 1, 0, 0, 1, 0, 0, 0], "references": [1, 0, 1, 0, 1, 1, 0, 0],
        "groups": ["a", "a", "a", "a", "b", "b", "b", "b"], "metric": "accuracy", "pos_label": 1})
    a, b = answer["groups"]["a"], answer["groups"]["b"]
    assert (a["count"], a["result"], a["positive_rate"], a["true_positive_rate"]) == (4, {"accuracy": 0.5}, 0.5, 0.5)
    assert (b["count"], b["result"], b["positive_rate"], b["true_positive_rate"]) == (4, {"accuracy": 0.75}, 0.25, 0.5)
    assert answer["demographic_parity_difference"] == 0.25
    assert answer["equal_opportunity_difference"] == 0.0


def test_fairness_names_the_positive_label_for_string_labels():
    data = {"predictions": ["yes", "no", "yes"], "references": ["yes", "yes", "no"], "groups": [1, 1, 2],
            "metric": "f1", "pos_label": "yes"}
    answer = scoring.fairness(None, data)
    assert answer["params"]["pos_label"] == "yes"
    assert answer["groups"]["2"]["true_positive_rate"] is None
    assert answer["equal_opportunity_difference"] is None
    with pytest.raises(ValidationFailed, match="pos_label"):
        scoring.fairness(None, {**data, "pos_label": 1})
