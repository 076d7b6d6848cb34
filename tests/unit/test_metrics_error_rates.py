"""wer and cer equal jiwer's counts as evaluate's modules use them (each pair aligned on its own, errors
summed over pairs, over the references' words or characters), on random texts and the documented
examples; all-blank references are a 422, and both bootstrap and compare."""
import jiwer
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app, scoring
from service.errors import ValidationFailed

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVALUATE_CER = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToSingleSentence(""),
                              jiwer.ReduceToListOfListOfChars()])


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


def compute(name, predictions, references, confidence=None):
    body = {"predictions": predictions, "references": references}
    if confidence:
        body["confidence"] = confidence
    return scoring.compute_one(None, name, body)


def evaluate_rate(predictions, references, transform=None):
    """evaluate's wer and cer modules (concatenate_texts=False), with jiwer's current call."""
    options = {"reference_transform": transform, "hypothesis_transform": transform} if transform else {}
    incorrect = total = 0
    for prediction, reference in zip(predictions, references):
        measures = jiwer.process_words(reference, prediction, **options)
        incorrect += measures.substitutions + measures.deletions + measures.insertions
        total += measures.substitutions + measures.deletions + measures.hits
    return incorrect / total


text = st.lists(st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "  ", "mats", "ca t"]), max_size=7).map(" ".join)


@SETTINGS
@given(st.data())
def test_wer_and_cer_equal_jiwer_as_evaluate_calls_it(data):
    n = data.draw(st.integers(min_value=1, max_value=10))
    predictions = data.draw(st.lists(text, min_size=n, max_size=n))
    references = data.draw(st.lists(text, min_size=n, max_size=n))
    if not any(r.strip() for r in references):
        for name in ("wer", "cer"):
            with pytest.raises(ValidationFailed):
                compute(name, predictions, references)
        return
    assert compute("wer", predictions, references)["result"] == {"wer": pytest.approx(evaluate_rate(predictions, references))}
    assert compute("cer", predictions, references)["result"] == {
        "cer": pytest.approx(evaluate_rate(predictions, references, EVALUATE_CER))}
    # jiwer's own corpus-level WER (its lists aligned pair by pair) is the same number.
    assert compute("wer", predictions, references)["result"]["wer"] == pytest.approx(jiwer.wer(references, predictions))


def test_the_documented_examples():
    predictions = ["this is the prediction", "there is an other sample"]
    references = ["this is the reference", "there is another one"]
    assert compute("wer", predictions, references)["result"] == {"wer": 0.5}
    assert compute("cer", predictions, references)["result"]["cer"] == pytest.approx(0.34146341463414637)
    assert compute("wer", ["hello world"], ["hello world"])["result"] == {"wer": 0.0}
    assert compute("wer", ["a b c d"], ["a"])["result"] == {"wer": 3.0}  # insertions can take it past 1


@pytest.mark.parametrize("predictions, references, field", [
    (["a"], [" "], "references"),
    (["a", "b"], ["", "  "], "references"),
    (["a", None], ["a", "b"], "predictions"),
    (["a"], ["a", "b"], "predictions"),
])
def test_what_an_error_rate_cannot_take_is_a_422(predictions, references, field):
    for name in ("wer", "cer"):
        with pytest.raises(ValidationFailed) as raised:
            compute(name, predictions, references)
        assert field in raised.value.errors


@pytest.mark.parametrize("name", ["wer", "cer"])
def test_intervals_and_comparison(name):
    references = [f"the order {i} ships on monday" for i in range(80)]
    close = [r if i % 3 else r.replace("monday", "tuesday") for i, r in enumerate(references)]
    far = [r if i % 3 else "nothing like it at all" for i, r in enumerate(references)]
    answer = compute(name, close, references, {"method": "bootstrap", "seed": 3, "resamples": 300, "level": 0.95})
    interval = answer["confidence_intervals"][name]
    assert interval["low"] <= answer["result"][name] <= interval["high"]
    compared = scoring.compare(None, {"metric": name, "references": references, "predictions_a": far,
                                      "predictions_b": close, "level": 0.95, "resamples": 300, "seed": 1})
    assert compared["difference"] < 0 and compared["p_value"] < 0.01
