"""Regression and correlation metrics (mae, mse, r_squared, pearsonr, spearmanr) equal their references
on random inputs and edge cases, refuse what they are undefined on with a 422 naming the field, and
bootstrap and compare like the others.

References: scikit-learn's mean_absolute_error, mean_squared_error and root_mean_squared_error (what
evaluate's mae and mse modules call), evaluate's r_squared formula (its module's own numpy lines),
scipy.stats.pearsonr and spearmanr (what evaluate's pearsonr and spearmanr call), r2_score as a second
opinion on R squared.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from service import create_app, scoring
from service.errors import ValidationFailed
from service.scoring import loader
from service.scoring.inputs import _describe, numbers

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["mae", "mse", "r_squared", "pearsonr", "spearmanr"]


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


def compute(name, predictions, references, confidence=None, **params):
    body = {"predictions": predictions, "references": references, "params": params}
    if confidence:
        body["confidence"] = confidence
    return scoring.compute_one(None, name, body)


def evaluate_r_squared(predictions, references):
    """evaluate's r_squared module, its lines as they are."""
    predictions, references = np.array(predictions), np.array(references)
    mean_references = np.mean(references)
    ssr = np.sum((predictions - references) ** 2)
    sst = np.sum((references - mean_references) ** 2)
    return 1 - (ssr / sst)


def reference(name, predictions, references, **params):
    y, p = np.asarray(references, dtype=float), np.asarray(predictions, dtype=float)
    if name == "mae":
        return {"mae": skm.mean_absolute_error(y, p)}
    if name == "mse":
        if params.get("squared", True):
            return {"mse": skm.mean_squared_error(y, p)}
        return {"mse": skm.root_mean_squared_error(y, p)}
    if name == "r_squared":
        return {"r_squared": evaluate_r_squared(predictions, references)}
    if name == "pearsonr":
        found = stats.pearsonr(y, p)
        return {"pearsonr": found[0], "p-value": found[1]} if params.get("return_pvalue") else {"pearsonr": found[0]}
    found = stats.spearmanr(y, p)
    return ({"spearmanr": found[0], "spearmanr_pvalue": found[1]} if params.get("return_pvalue")
            else {"spearmanr": found[0]})


number = st.one_of(st.integers(min_value=-10**6, max_value=10**6),
                   st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False))


def varies(values) -> bool:
    return len(values) > 1 and len(set(values)) > 1


@SETTINGS
@given(st.sampled_from(NAMES), st.data())
def test_every_metric_equals_its_reference_on_random_numbers(name, data):
    n = data.draw(st.integers(min_value=1, max_value=40))
    predictions, references = (data.draw(st.lists(number, min_size=n, max_size=n)) for _ in range(2))
    params = {}
    if name == "mse":
        params["squared"] = data.draw(st.booleans())
    if name in ("pearsonr", "spearmanr"):
        params["return_pvalue"] = data.draw(st.booleans())
    needs = {"r_squared": [references], "pearsonr": [predictions, references],
             "spearmanr": [predictions, references]}.get(name, [])
    too_few = name in ("pearsonr", "spearmanr") and n < 3  # two items: always +-1, p-value undefined
    if too_few or not all(varies(values) for values in needs):
        with pytest.raises(ValidationFailed):
            compute(name, predictions, references, **params)
        return
    ours = compute(name, predictions, references, **params)["result"]
    expected = reference(name, predictions, references, **params)
    assert ours.keys() == expected.keys()
    for key in expected:
        assert ours[key] == pytest.approx(float(expected[key]), rel=1e-9, abs=1e-9), key


def test_edge_cases():
    assert compute("mae", [3], [3])["result"] == {"mae": 0.0}
    assert compute("mse", [1.5, 2], [1.5, 2], squared=False)["result"] == {"mse": 0.0}
    assert compute("r_squared", [1, 2, 3], [1, 2, 3])["result"] == {"r_squared": 1.0}
    assert compute("pearsonr", [1, 2, 3], [2, 4, 6])["result"]["pearsonr"] == pytest.approx(1.0)
    assert compute("spearmanr", [1, 2, 30], [1, 5, 6])["result"] == {"spearmanr": pytest.approx(1.0)}


@pytest.mark.parametrize("name, predictions, references, field", [
    ("pearsonr", [1, 1, 1], [1, 2, 3], "predictions"),
    ("spearmanr", [1, 2, 3], [5, 5, 5], "references"),
    ("pearsonr", [1], [2], "references"),
    ("spearmanr", [1, 2], [2, 3], "references"),
    ("r_squared", [1, 2, 3], [4, 4, 4], "references"),
    ("mae", [1, True], [1, 2], "predictions"),
    ("mae", [1, "2"], [1, 2], "predictions"),
    ("mse", [1, 2], [1, None], "references"),
    ("mae", [1, 2, 3], [1, 2], "predictions"),
    ("mae", [], [], "predictions"),
    ("mae", [[1], [2]], [1, 2], "predictions"),
])
def test_what_a_metric_cannot_take_is_a_422_naming_the_field(name, predictions, references, field):
    with pytest.raises(ValidationFailed) as raised:
        compute(name, predictions, references)
    assert field in raised.value.errors
    message = raised.value.detail
    assert "nan" not in message.lower()


@given(st.lists(st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
                         st.sampled_from([0, 1, 0.0, 1.0])), min_size=1, max_size=40),
       st.integers(0, 40), st.sampled_from([True, False, None, "1", [1.0], {"x": 1}]))
@SETTINGS
def test_a_number_list_is_taken_as_float64_and_anything_else_in_it_is_named_by_index(values, position, intruder):
    """Numbers come through exactly as numpy converts them; true and false are refused even among the
    0s and 1s they would equal, and so is a string, a null, a list or an object, at its index."""
    converted = numbers(values, "predictions")
    assert converted.dtype == np.float64 and converted.tolist() == np.asarray(values, dtype=np.float64).tolist()
    mixed = values[:position] + [intruder] + values[position:]
    with pytest.raises(ValidationFailed) as raised:
        numbers(mixed, "predictions")
    index = min(position, len(values))
    assert raised.value.errors == {"predictions": [f"Item {index} is {_describe(intruder)}; must be a number."]}


def test_an_integer_beyond_a_float_is_a_422_naming_its_index():
    with pytest.raises(ValidationFailed) as raised:
        numbers([1, 2.5, 10**309], "references")
    assert raised.value.errors == {"references": ["Item 2 is out of range for a 64-bit float."]}


def test_params_are_strict():
    for name, params in [("mse", {"squared": 0}), ("pearsonr", {"return_pvalue": "yes"}), ("mae", {"squared": True})]:
        with pytest.raises(ValidationFailed) as raised:
            compute(name, [1, 2], [2, 3], **params)
        assert "params" in raised.value.errors


@SETTINGS
@given(st.sampled_from(["mae", "mse", "r_squared", "pearsonr"]), st.data())
def test_summed_item_statistics_give_the_metric(name, data):
    """The additive bootstrap's formula on all items is the metric itself."""
    n = data.draw(st.integers(min_value=2, max_value=30))
    predictions, references = (data.draw(st.lists(number, min_size=n, max_size=n)) for _ in range(2))
    if not (varies(predictions) and varies(references)):
        return
    module = loader.module(name)
    statistics = module._item_statistics(np.asarray(predictions, float), np.asarray(references, float))
    replicate = module._score_statistics(statistics.sum(0, keepdims=True), n)
    result = module._compute(predictions=predictions, references=references)
    assert replicate[name][0] == pytest.approx(result[name], rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_intervals_hold_the_estimate_are_reproducible_and_never_nan(name):
    rng = np.random.default_rng(4)
    references = rng.normal(size=60)
    predictions = references + rng.normal(scale=0.5, size=60)
    confidence = {"method": "bootstrap", "seed": 9, "resamples": 300, "level": 0.95}
    first = compute(name, predictions.tolist(), references.tolist(), confidence)
    interval = first["confidence_intervals"][name]
    assert interval["low"] <= first["result"][name] <= interval["high"]
    assert compute(name, predictions.tolist(), references.tolist(), confidence)["confidence_intervals"] == \
        first["confidence_intervals"]
    # Three items: many resamples repeat one value, on which a correlation is undefined; they are left out.
    small = compute(name, [1.0, 2.0, 4.0], [1.5, 2.5, 3.0], confidence)["confidence_intervals"]
    assert all(np.isfinite([i["low"], i["high"]]).all() for i in small.values())


@pytest.mark.parametrize("name", NAMES)
def test_compare_finds_a_planted_difference(name):
    rng = np.random.default_rng(5)
    references = rng.normal(size=120)
    good = references + rng.normal(scale=0.2, size=120)
    bad = references + rng.normal(scale=1.5, size=120)
    answer = scoring.compare(None, {"metric": name, "references": references.tolist(), "predictions_a": bad.tolist(),
                                    "predictions_b": good.tolist(), "level": 0.95, "resamples": 300, "seed": 1})
    assert answer["difference"] == pytest.approx(answer["b"] - answer["a"])
    assert answer["p_value"] < 0.01
    same = scoring.compare(None, {"metric": name, "references": references.tolist(), "predictions_a": good.tolist(),
                                  "predictions_b": good.tolist(), "level": 0.95, "resamples": 100, "seed": 1})
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_compare_names_the_constant_system():
    with pytest.raises(ValidationFailed) as raised:
        scoring.compare(None, {"metric": "pearsonr", "references": [1, 2, 3], "predictions_a": [1, 2, 4],
                               "predictions_b": [2, 2, 2], "level": 0.95, "resamples": 100, "seed": 1})
    assert list(raised.value.errors) == ["predictions_b"]


# -- brier_score: probabilities of the positive class against binary labels -------------------------
@SETTINGS
@given(st.data())
def test_brier_score_equals_scikit_learn(data):
    n = data.draw(st.integers(min_value=1, max_value=40))
    probabilities = data.draw(st.lists(st.floats(min_value=0, max_value=1), min_size=n, max_size=n))
    classes = data.draw(st.sampled_from([(0, 1), (-1, 1), ("ham", "spam")]))
    references = data.draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    params = {"pos_label": classes[1]} if isinstance(classes[0], str) or data.draw(st.booleans()) else {}
    ours = compute("brier_score", probabilities, references, **params)["result"]
    expected = skm.brier_score_loss(np.asarray(references), np.asarray(probabilities), pos_label=params.get("pos_label", 1))
    assert ours == {"brier_score": pytest.approx(expected, rel=1e-12, abs=1e-15)}


@pytest.mark.parametrize("predictions, references, params, field", [
    ([0.2, 1.5], [0, 1], {}, "predictions"),
    ([-0.1, 0.5], [0, 1], {}, "predictions"),
    ([0.2, 0.5, 0.1], [0, 1, 2], {}, "references"),
    ([0.2, 0.5], ["a", "b"], {}, "params"),
    ([0.2, 0.5], ["a", "b"], {"pos_label": 1}, "params"),
    ([0.2, True], [0, 1], {}, "predictions"),
    ([0.2, 0.4], [0, None], {}, "references"),
])
def test_brier_score_refuses_what_is_not_a_binary_probability(predictions, references, params, field):
    with pytest.raises(ValidationFailed) as raised:
        compute("brier_score", predictions, references, **params)
    assert field in raised.value.errors


def test_brier_score_bootstraps_and_compares():
    rng = np.random.default_rng(2)
    references = rng.integers(0, 2, size=200)
    sharp = np.clip(references * 0.8 + 0.1 + rng.normal(scale=0.05, size=200), 0, 1)
    vague = np.full(200, 0.5)
    answer = compute("brier_score", sharp.tolist(), references.tolist(),
                     {"method": "bootstrap", "seed": 1, "resamples": 300, "level": 0.95})
    interval = answer["confidence_intervals"]["brier_score"]
    assert interval["low"] <= answer["result"]["brier_score"] <= interval["high"]
    compared = scoring.compare(None, {"metric": "brier_score", "references": references.tolist(),
                                      "predictions_a": vague.tolist(), "predictions_b": sharp.tolist(),
                                      "level": 0.95, "resamples": 300, "seed": 1})
    assert compared["difference"] < 0 and compared["p_value"] < 0.01
