"""ter and google_bleu equal their references, sacrebleu's TER and nltk's corpus_gleu on sacrebleu's 13a
tokens (what evaluate's modules call), on random texts and evaluate's documented examples; their
bootstrap sums per-sentence statistics; bad parameters are a 422."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.translate.gleu_score import corpus_gleu
from sacrebleu.metrics import TER
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from service import create_app, scoring
from service.errors import ValidationFailed
from service.scoring import loader

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = ["the", "cat", "sat", "on", "a", "mat", "Mat", "mat.", "dog,", "ran", "3.5", "-"]
sentence = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)


@pytest.fixture(scope="module", autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        yield


def compute(name, predictions, references, **params):
    return scoring.compute_one(None, name, {"predictions": predictions, "references": references,
                                            "params": params})["result"]


def streams(references, width):
    return [[refs[i] for refs in references] for i in range(width)]


@SETTINGS
@given(st.data())
def test_ter_equals_sacrebleu(data):
    n, width = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 3))
    predictions = data.draw(st.lists(sentence, min_size=n, max_size=n))
    references = data.draw(st.lists(st.lists(sentence, min_size=width, max_size=width), min_size=n, max_size=n))
    options = {key: data.draw(st.booleans()) for key in ("normalized", "ignore_punct", "case_sensitive")}
    expected = TER(normalized=options["normalized"], no_punct=options["ignore_punct"],
                   case_sensitive=options["case_sensitive"]).corpus_score(predictions, streams(references, width))
    ours = compute("ter", predictions, references, **options)
    assert ours == {"score": pytest.approx(expected.score), "num_edits": expected.num_edits,
                    "ref_length": pytest.approx(expected.ref_length)}
    module = loader.module("ter")  # the bootstrap's per-sentence sums give the corpus score
    totals = module._item_statistics(predictions, references, **options).sum(0, keepdims=True)
    assert module._score_statistics(totals, n, **options)["score"][0] == pytest.approx(expected.score)


@SETTINGS
@given(st.data())
def test_google_bleu_equals_nltk_on_13a_tokens(data):
    n = data.draw(st.integers(1, 8))
    predictions = data.draw(st.lists(sentence, min_size=n, max_size=n))
    references = data.draw(st.lists(st.lists(sentence, min_size=1, max_size=3), min_size=n, max_size=n))
    min_len = data.draw(st.integers(1, 3))
    max_len = data.draw(st.integers(min_len, 5))
    tokenize = Tokenizer13a()
    expected = corpus_gleu([[tokenize(r).split() for r in refs] for refs in references],
                           [tokenize(p).split() for p in predictions], min_len=min_len, max_len=max_len)
    assert compute("google_bleu", predictions, references, min_len=min_len, max_len=max_len) == \
        {"google_bleu": pytest.approx(expected)}
    module = loader.module("google_bleu")
    totals = module._item_statistics(predictions, references, min_len, max_len).sum(0, keepdims=True)
    assert module._score_statistics(totals, n, min_len, max_len)["google_bleu"][0] == pytest.approx(expected)


def test_the_documented_examples():
    assert compute("ter", ["does this sentence match??", "what about this sentence?"],
                   [["does this sentence match", "does this sentence match!?!"],
                    ["wHaT aBoUt ThIs SeNtEnCe?", "wHaT aBoUt ThIs SeNtEnCe?"]], case_sensitive=True) == \
        {"score": 62.5, "num_edits": 5, "ref_length": 8.0}
    predictions = ["It is a guide to action which ensures that the rubber duck always disobeys the commands of the cat",
                   "he read the book because he was interested in world history"]
    references = [["It is the guiding principle which guarantees the rubber duck forces never being under the command of the cat",
                   "It is a guide to action that ensures that the rubber duck will never heed the cat commands",
                   "It is the practical guide for the rubber duck army never to heed the directions of the cat"],
                  ["he was interested in world history because he read the book"]]
    assert round(compute("google_bleu", predictions, references, min_len=2)["google_bleu"], 2) == 0.53
    assert round(compute("google_bleu", predictions, references, min_len=2, max_len=6)["google_bleu"], 2) == 0.4


@pytest.mark.parametrize("name, params", [
    ("google_bleu", {"min_len": 3, "max_len": 2}), ("google_bleu", {"min_len": 0}), ("google_bleu", {"max_len": 2.5}),
    ("ter", {"normalized": 1}), ("ter", {"no_punct": True}),
])
def test_bad_parameters_are_a_422(name, params):
    with pytest.raises(ValidationFailed) as raised:
        compute(name, ["a b"], ["a b"], **params)
    assert "params" in raised.value.errors


@pytest.mark.parametrize("name", ["ter", "google_bleu"])
def test_compare_finds_a_better_translation(name):
    references = [f"the parcel number {i} leaves the depot on monday morning" for i in range(60)]
    good = [r if i % 4 else r.replace("monday", "friday") for i, r in enumerate(references)]
    bad = [" ".join(r.split()[::-1]) if i % 2 else r for i, r in enumerate(references)]
    compared = scoring.compare(None, {"metric": name, "references": references, "predictions_a": bad,
                                      "predictions_b": good, "level": 0.95, "resamples": 300, "seed": 1})
    better = compared["difference"] < 0 if name == "ter" else compared["difference"] > 0
    assert better and compared["p_value"] < 0.01
