"""roc_auc equals scikit-learn's roc_auc_score (what evaluate's module calls) for binary, multiclass
(ovr, ovo) and multilabel outcomes on random scores and on evaluate's examples; it takes
`prediction_scores` as evaluate does; inputs it is undefined on are a 422, never a NaN."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from service import create_app, scoring
from service.errors import ValidationFailed

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


def compute(scores, references, confidence=None, **params):
    body = {"prediction_scores": scores, "references": references, "params": params}
    if confidence:
        body["confidence"] = confidence
    return scoring.compute_one(None, "roc_auc", body)


@SETTINGS
@given(st.data())
def test_binary_equals_scikit_learn(data):
    n = data.draw(st.integers(2, 40))
    references = data.draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n).filter(lambda r: len(set(r)) == 2))
    scores = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    params = data.draw(st.sampled_from([{}, {"max_fpr": 0.5}, {"max_fpr": 1.0}]))
    expected = roc_auc_score(references, scores, **params)
    assert compute(scores, references, **params)["result"] == {"roc_auc": pytest.approx(expected)}


@SETTINGS
@given(st.data())
def test_multiclass_equals_scikit_learn(data):
    n, classes = data.draw(st.integers(6, 40)), data.draw(st.integers(3, 4))
    references = data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)
                           .filter(lambda r: len(set(r)) == classes))
    raw = np.asarray(data.draw(st.lists(st.lists(st.floats(0.01, 1), min_size=classes, max_size=classes),
                                        min_size=n, max_size=n)))
    scores = (raw / raw.sum(axis=1, keepdims=True)).tolist()
    params = {"multi_class": data.draw(st.sampled_from(["ovr", "ovo"])),
              "average": data.draw(st.sampled_from(["macro", "weighted"]))}
    expected = roc_auc_score(references, scores, **params)
    assert compute(scores, references, **params)["result"] == {"roc_auc": pytest.approx(expected)}


@SETTINGS
@given(st.data())
def test_multilabel_equals_scikit_learn(data):
    n, width = data.draw(st.integers(4, 30)), data.draw(st.integers(2, 4))
    references = data.draw(st.lists(st.lists(st.sampled_from([0, 1]), min_size=width, max_size=width),
                                    min_size=n, max_size=n).filter(
        lambda rows: all(len({row[c] for row in rows}) == 2 for c in range(width))))
    scores = data.draw(st.lists(st.lists(st.floats(0, 1), min_size=width, max_size=width), min_size=n, max_size=n))
    average = data.draw(st.sampled_from(["macro", "weighted", "micro", None]))
    expected = roc_auc_score(np.asarray(references), np.asarray(scores), average=average)
    ours = compute(scores, references, average=average)["result"]["roc_auc"]
    assert ours == pytest.approx(expected.tolist() if average is None else expected)


def test_evaluates_examples():
    assert round(compute([0.5, 0.2, 0.99, 0.3, 0.1, 0.7], [1, 0, 1, 1, 0, 0])["result"]["roc_auc"], 2) == 0.78
    rows = [[0.3, 0.5, 0.2], [0.7, 0.2, 0.1], [0.005, 0.99, 0.005], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.1, 0.7, 0.2]]
    assert round(compute(rows, [1, 0, 1, 2, 2, 0], multi_class="ovr")["result"]["roc_auc"], 2) == 0.85
    labels = [[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1], [1, 0, 1]]
    assert [round(v, 2) for v in compute(rows, labels, average=None)["result"]["roc_auc"]] == [0.83, 0.38, 0.94]


@pytest.mark.parametrize("scores, references, params, field", [
    ([0.2, 0.4, 0.6], [1, 1, 1], {}, "references"),
    ([0.2, 0.4, 0.6], [0, 1, 2], {}, "references"),
    ([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]], [0, 1, 0], {}, "params"),
    ([[0.2, 0.7], [0.5, 0.5], [0.1, 0.9]], [0, 1, 0], {"multi_class": "ovr"}, "prediction_scores"),
    ([[0.2, 0.8], [0.5]], [0, 1], {"multi_class": "ovr"}, "prediction_scores"),
    ([[0.2, 0.8], [0.5, 0.5]], [[1, 0], [0, 2]], {}, "references"),
    ([[0.2, 0.8, 0.1], [0.5, 0.5, 0.3]], [[1, 0], [0, 1]], {}, "prediction_scores"),
    ([0.2, True], [0, 1], {}, "prediction_scores"),
    ([0.2, 0.3], [0, 1], {"multi_class": "both"}, "params"),
    ([[0.2, 0.8], [0.6, 0.4]], [[1, 0], [1, 1]], {}, "_schema"),  # a label column with one class: undefined
])
def test_what_roc_auc_cannot_take_is_a_422(scores, references, params, field):
    with pytest.raises(ValidationFailed) as raised:
        compute(scores, references, **params)
    assert field in raised.value.errors


def test_the_column_is_prediction_scores_and_a_single_metric_takes_only_its_own():
    with pytest.raises(ValidationFailed) as raised:
        scoring.compute_one(None, "roc_auc", {"predictions": [0.1, 0.9], "references": [0, 1]})
    assert raised.value.errors == {"predictions": ["roc_auc takes prediction_scores instead."]}
    with pytest.raises(ValidationFailed) as raised:
        scoring.compute_one(None, "accuracy", {"predictions": [1], "prediction_scores": [0.9], "references": [1]})
    assert "prediction_scores" in raised.value.errors
    both = scoring.compute_many(None, {"metrics": [{"name": "accuracy", "params": {}}, {"name": "roc_auc", "params": {}}],
                                       "predictions": [1, 0, 1], "prediction_scores": [0.8, 0.3, 0.4], "references": [1, 0, 0]})
    assert [r["metric"] for r in both["results"]] == ["accuracy", "roc_auc"]


def test_intervals_leave_out_redraws_with_one_class_and_compare_finds_the_better_ranker():
    rng = np.random.default_rng(3)
    references = rng.integers(0, 2, size=150)
    good = np.clip(references * 0.6 + rng.normal(0.2, 0.2, size=150), 0, 1)
    noise = rng.random(150)
    answer = compute(good.tolist(), references.tolist(), {"method": "bootstrap", "seed": 1, "resamples": 200, "level": 0.95})
    interval = answer["confidence_intervals"]["roc_auc"]
    assert interval["low"] <= answer["result"]["roc_auc"] <= interval["high"] <= 1
    tiny = compute([0.2, 0.9, 0.4], [0, 1, 0], {"method": "bootstrap", "seed": 1, "resamples": 200, "level": 0.95})
    assert np.isfinite(list(tiny["confidence_intervals"]["roc_auc"].values())[:2]).all()
    compared = scoring.compare(None, {"metric": "roc_auc", "references": references.tolist(), "predictions_a": noise.tolist(),
                                      "predictions_b": good.tolist(), "level": 0.95, "resamples": 200, "seed": 1})
    assert compared["difference"] > 0.2 and compared["p_value"] < 0.01
