"""Every Client method against a real aiqa server (gunicorn, default profile plus tiny models)."""
import pytest
import requests

from aiqa_client import Client, errors
from aiqa_client.types import Classification, Counterfactual, Generation, MetricResult, Perplexity

pytestmark = pytest.mark.slow
CVS = ["He is an excellent engineer.", "She is a skilled and reliable nurse.", "His work is careless.",
       "Her references are strong.", "He was a lazy employee.", "She is an experienced manager.",
       "Mr. Brown is a brilliant analyst.", "My sister is unreliable."]


@pytest.fixture(scope="module")
def client(aiqa_server):
    with Client(aiqa_server.url, timeout=120) as client:
        yield client


def test_health_and_models(client):
    assert client.livez().status == "ok"
    readiness = client.readyz()
    assert readiness.ready and "smollm2" in readiness.models and readiness.missing == {}
    models = {m.name: m for m in client.models().models}
    assert models["tiny-lm"].task == "causal-lm" and models["tiny-lm"].state == "ready"
    assert "generate" in models["smollm2"].capabilities and models["minilm"].revision
    assert client.wait_until_ready(timeout=5).ready
    assert "aiqa_requests_total" in client.prometheus()


def test_classify_with_a_head_and_zero_shot(client):
    answer = client.classify(["I love it", "Awful"], model="tiny-classifier", top_k=2)
    assert isinstance(answer, Classification) and answer.model == "tiny-classifier"
    assert len(answer.results) == 2 and all(len(row) == 2 for row in answer.results)
    assert answer.results[0][0].score >= answer.results[0][1].score
    zero_shot = client.classify("The match went to extra time", model="tiny-lm",
                                candidate_labels=["sports", "cooking"], hypothesis_template="about {}")
    assert zero_shot.candidate_labels == ["sports", "cooking"] and zero_shot.hypothesis_template == "about {}"
    assert sorted(zero_shot.labels) in (["sports"], ["cooking"])


def test_perplexity_generate_similarity(client):
    ppl = client.perplexity(["The cat sat on the mat.", "mat the on sat"], model="tiny-lm", max_length=16, stride=8)
    assert isinstance(ppl, Perplexity) and len(ppl.perplexities) == 2 and (ppl.max_length, ppl.stride) == (16, 8)
    first = client.generate("Once upon a time", model="tiny-lm", max_new_tokens=4, temperature=0.9, seed=7)
    again = client.generate("Once upon a time", model="tiny-lm", max_new_tokens=4, temperature=0.9, seed=7)
    assert isinstance(first, Generation) and first.text == again.text and first.seed == 7
    chat = client.generate(messages=[{"role": "user", "content": "Say hi."}], max_new_tokens=3)
    assert chat.model == "smollm2" and chat.completion_tokens <= 3
    scores = client.similarity([["guitar", "instrument"], ["guitar", "stock market"]]).scores
    assert scores[0] > scores[1]


def test_counterfactual_flags_the_gender_dependent_classifier(client):
    biased = client.counterfactual(CVS, model="biased", label="hire")
    fair = client.counterfactual(CVS, model="fair", label="hire", permutations=999, seed=1)
    assert isinstance(biased, Counterfactual) and biased.p_value < 0.05 and biased.flip_rate > 0
    assert fair.flip_rate == 0 and fair.p_value >= 0.05 and fair.seed == 1
    assert biased.results[0].variants[1].text == "She is an excellent engineer."
    custom = client.counterfactual("John is excellent.", model="biased", swaps=[["John", "Mary"]])
    assert custom.groups == ["John", "Mary"]


def test_metrics(client):
    names = {m.name for m in client.list_metrics()}
    assert {"accuracy", "f1", "bleu", "rouge"} <= names
    assert client.describe_metric("f1").primary_key == "f1"
    f1 = client.metric("f1", [0, 1, 1, 0, 1], [0, 1, 0, 0, 1])
    assert isinstance(f1, MetricResult) and f1.value() == pytest.approx(0.8)
    interval = client.metric("accuracy", [0, 1, 1, 0, 1], [0, 1, 0, 0, 1],
                             confidence={"resamples": 100, "seed": 0})
    assert interval.value() == pytest.approx(0.8) and interval.confidence_intervals
    auc = client.metric("roc_auc", references=[1, 0, 1, 1, 0, 0], prediction_scores=[0.5, 0.2, 0.99, 0.3, 0.1, 0.7])
    assert auc.value() == pytest.approx(7 / 9)
    both = client.metrics(["accuracy", "roc_auc"], [1, 0, 1], [1, 0, 0], prediction_scores=[0.8, 0.3, 0.4])
    assert [r.value() for r in both] == pytest.approx([2 / 3, 1.0])
    several = client.metrics(["accuracy", {"name": "recall"}], [0, 1, 1, 0, 1], [0, 1, 0, 0, 1])
    assert [r.metric for r in several] == ["accuracy", "recall"] and several[1].value() == 1.0
    compared = client.compare("accuracy", [0, 1, 1, 0, 1], [0, 1, 0, 0, 1], [0, 1, 0, 0, 1], resamples=100, seed=0)
    assert (compared.a, compared.b) == (pytest.approx(0.8), pytest.approx(1.0))
    fairness = client.fairness([1, 0, 1, 1], [1, 0, 0, 1], ["m", "m", "f", "f"])
    assert set(fairness.groups) == {"m", "f"} and fairness.demographic_parity_difference == pytest.approx(0.5)


def test_the_whole_catalog_through_the_client(client):
    """Every metric of the catalog answers through Client.metric / metrics / compare in its own input
    shape: squad's records, roc_auc's scores, lists of references, numbers."""
    names = {m.name for m in client.list_metrics()}
    assert {"squad", "squad_v2", "wer", "cer", "ter", "google_bleu", "roc_auc", "brier_score", "mae", "mse",
            "r_squared", "pearsonr", "spearmanr"} <= names
    references = [{"id": "q1", "answers": {"text": ["Paris"], "answer_start": [0]}},
                  {"id": "q2", "answers": {"text": [], "answer_start": []}}]
    squad = client.metric("squad", [{"id": "q1", "prediction_text": "paris"}], references[:1])
    assert squad.result == {"exact_match": 100.0, "f1": 100.0}
    v2 = client.metric("squad_v2", [{"id": "q1", "prediction_text": "Paris", "no_answer_probability": 0.1},
                                    {"id": "q2", "prediction_text": "", "no_answer_probability": 0.9}], references)
    assert (v2.result["exact"], v2.result["HasAns_total"], v2.result["NoAns_total"]) == (100.0, 1, 1)
    with pytest.raises(errors.ValidationFailed) as missing:
        client.metric("squad", [{"id": "q9", "prediction_text": "Paris"}], references[:1])
    assert "'q1'" in missing.value.detail and "predictions" in missing.value.errors  # the unanswered question
    text = client.metrics(["wer", "cer"], ["hello there world", "abd"], ["hello world", "abc"])
    assert [r.value() for r in text] == pytest.approx([2 / 3, 7 / 14])
    ter, gleu = client.metrics(["ter", "google_bleu"], ["the cat sat on the mat"],
                               [["the cat sat on the mat", "a cat sat on a mat"]])
    assert (ter.result["score"], gleu.value()) == (0.0, 1.0)
    assert client.metric("brier_score", [0.1, 0.8], [0, 1]).value() == pytest.approx((0.01 + 0.04) / 2)
    predicted, actual = [1.0, 2.0, 3.5, 4.0], [1.5, 2.0, 3.0, 5.0]
    numbers = client.metrics(["mae", {"name": "mse", "params": {"squared": False}}, "r_squared",
                              {"name": "pearsonr", "params": {"return_pvalue": True}}, "spearmanr"],
                             predicted, actual)
    assert numbers[0].value() == pytest.approx(0.5)
    assert numbers[1].value() == pytest.approx((0.25 + 0 + 0.25 + 1) ** 0.5 / 2)
    assert numbers[2].value() == pytest.approx(1 - 1.5 / sum((a - 2.875) ** 2 for a in actual))
    assert set(numbers[3].result) == {"pearsonr", "p-value"} and numbers[4].value() == pytest.approx(1.0)
    compared = client.compare("wer", ["hello world", "a b c"], ["hello there world", "a b c"],
                              ["hello world", "a b c"], resamples=200, seed=0)
    assert (compared.key, compared.a, compared.b) == ("wer", 0.0, pytest.approx(1 / 5))


def test_seqeval_table_upload(client):
    table = "token,reference,prediction\nJohn,B-PER,B-PER\nlives,O,O\nin,O,O\nParis,B-LOC,O\n"
    answer = client.metric_table("seqeval", table)
    assert answer.metric == "seqeval" and "overall_f1" in answer.result


@pytest.mark.parametrize("call, error, field", [
    (lambda c: c.classify("x", model="no-such-model"), errors.ModelNotFound, "model"),
    (lambda c: c.classify("x", top_k=0), errors.ValidationFailed, "top_k"),
    (lambda c: c.perplexity("x y", model="minilm"), errors.WrongTask, "model"),
    (lambda c: c.classify(["x"] * 300), errors.PayloadTooLarge, "inputs"),
    (lambda c: c.metric("no-such-metric", [1], [1]), errors.NotFound, "metric"),
])
def test_errors_of_a_real_server(client, call, error, field):
    with pytest.raises(error) as info:
        call(client)
    assert field in info.value.errors and info.value.response.status_code == info.value.status


def test_route_method_and_body_errors_of_a_real_server(client, aiqa_server):
    with pytest.raises(errors.NotFound):
        client.request("GET", "/v1/no-such-route")
    with pytest.raises(errors.MethodNotAllowed):
        client.request("GET", "/v1/classify")
    with pytest.raises(errors.UnsupportedMediaType):
        client.request("POST", "/v1/classify", data="inputs=x", headers={"Content-Type": "text/plain"})
    with pytest.raises(errors.MalformedRequest):
        client.request("POST", "/v1/classify", data="{not json", headers={"Content-Type": "application/json"})
    assert requests.get(aiqa_server.url + "/livez", timeout=5).ok


def test_question_answering(client):
    context = "Hugging Face is a platform for NLP. It was founded in New York."
    answer = client.qa("What is Hugging Face?", context, model="smollm2")
    assert answer.model == "smollm2" and len(answer.answers) == 1 and answer.answers[0] in context
    first = answer.results[0][0]
    assert context[first["start"]:first["end"]] == first["answer"]
    both = client.qa(inputs=[{"question": "Where was it founded?", "context": context},
                             {"question": "What is it?", "context": context}], model="tiny-qa", top_k=2)
    assert len(both.results) == 2 and all(len(r) <= 2 for r in both.results) and both.top_k == 2


def test_named_entities(client):
    answer = client.ner(["John lives in Paris.", "Nothing here"], model="tiny-ner", word_labels=True)
    assert answer.model == "tiny-ner" and len(answer.results) == 2 and answer.aggregation == "simple"
    assert answer.words[0][:2] == ["John", "lives"] and len(answer.tags[0]) == len(answer.words[0])
