"""Tiny random models through the registry equal the transformers reference computations."""
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

TEXTS = ["I love this film.", "Terrible.", "The service was fine, nothing special, really quite average overall.",
         "Ok"]


@pytest.fixture(scope="module")
def client(tiny_app):
    return tiny_app.test_client()


def test_classify_equals_text_classification_pipeline(client, tiny_models):
    reference = pipeline("text-classification", model=tiny_models["bert-classifier"], top_k=None, device="cpu")
    response = client.post("/v1/classify", json={"model": "tiny-classifier", "inputs": TEXTS})
    assert response.status_code == 200, response.json
    for ours, theirs in zip(response.json["results"], reference(TEXTS)):
        assert [r["label"] for r in ours] == [t["label"] for t in theirs]
        for r, t in zip(ours, theirs):
            assert r["score"] == pytest.approx(t["score"], abs=1e-5)


def test_classify_top_k_and_fixed_labels(client):
    response = client.post("/v1/classify", json={"model": "tiny-classifier", "inputs": "hello", "top_k": 2})
    assert len(response.json["results"][0]) == 2
    scores = [r["score"] for r in response.json["results"][0]]
    assert scores == sorted(scores, reverse=True)
    wrong = client.post("/v1/classify", json={"model": "tiny-classifier", "inputs": "x", "candidate_labels": ["a", "b"]})
    assert wrong.status_code == 422 and "candidate_labels" in wrong.json["errors"]


@pytest.fixture(scope="module")
def reference_lm(tiny_models):
    path = tiny_models["gpt2-lm"]
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def direct_perplexity(model, tokenizer, text, max_length, stride):
    """Token by token, one unpadded forward each: token i is predicted from the window that first
    reaches it, i.e. from ids[begin(i):i] with begin(i) the start of that window."""
    ids = tokenizer(text)["input_ids"]
    nll = 0.0
    for i in range(1, len(ids)):
        begin = stride * max(0, math.ceil((i + 1 - max_length) / stride))
        with torch.inference_mode():
            logits = model(torch.tensor([ids[begin:i]])).logits[0, -1]
        nll -= logits.log_softmax(-1)[ids[i]].item()
    return math.exp(nll / (len(ids) - 1)), len(ids) - 1


LONG = " ".join(f"word{i} and the sentence keeps going" for i in range(30))


@pytest.mark.parametrize("max_length, stride", [(64, 32), (64, 1), (16, 8), (16, 15), (10, 3)])
def test_perplexity_equals_direct_computation(client, reference_lm, max_length, stride):
    texts = ["A short sentence about cats.", LONG]
    response = client.post("/v1/perplexity", json={"model": "tiny-lm", "inputs": texts,
                                                  "max_length": max_length, "stride": stride})
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["max_length"], body["stride"]) == (max_length, stride)
    for text, ppl, count in zip(texts, body["perplexities"], body["token_counts"]):
        expected, expected_count = direct_perplexity(*reference_lm, text, max_length, stride)
        assert count == expected_count
        assert ppl == pytest.approx(expected, rel=1e-4)


def test_perplexity_does_not_depend_on_batching(tiny_app):
    model = tiny_app.extensions["aiqa.registry"].get("tiny-lm", "perplexity")
    texts = ["short text", "a somewhat longer text with more tokens in it", LONG, "mid length text here"]
    together, _, _ = model.perplexity(texts, 64, 32)
    alone = [model.perplexity([t], 64, 32)[0][0] for t in texts]
    saved = model.max_batch_size
    try:
        model.max_batch_size = 1
        one_by_one, _, _ = model.perplexity(texts, 64, 32)
    finally:
        model.max_batch_size = saved
    for a, b, c in zip(together, alone, one_by_one):
        assert a.perplexity == pytest.approx(b.perplexity, rel=1e-5)
        assert a.perplexity == pytest.approx(c.perplexity, rel=1e-5)


def test_windows_predict_every_token_once(tiny_app):
    model = tiny_app.extensions["aiqa.registry"].get("tiny-lm", "perplexity")
    ids = list(range(100))
    for max_length, stride in [(10, 3), (10, 9), (64, 32), (200, 100)]:
        predicted = []
        for window, n_context in model.perplexity_windows(ids, max_length, stride):
            assert len(window) <= max_length and n_context >= 1
            predicted.extend(window[n_context:])
        assert predicted == ids[1:]


def test_perplexity_rejects_window_over_model_limit(client):
    response = client.post("/v1/perplexity", json={"model": "tiny-lm", "inputs": ["a b"], "max_length": 65})
    assert response.status_code == 422 and "max_length" in response.json["errors"]


def test_generate_is_seeded_and_bounded(client):
    body = {"model": "tiny-lm", "prompt": "Hello there", "max_new_tokens": 8, "temperature": 1.0, "seed": 3}
    first, second = client.post("/v1/generate", json=body).json, client.post("/v1/generate", json=body).json
    assert first["text"] == second["text"] and first["seed"] == 3
    assert first["completion_tokens"] <= 8
    too_long = client.post("/v1/generate", json={**body, "max_new_tokens": 64})
    assert too_long.status_code == 422 and "max_new_tokens" in too_long.json["errors"]


def test_zero_shot_input_longer_than_the_window_is_422(client):
    response = client.post("/v1/classify", json={"model": "tiny-lm", "inputs": ["fine", "word " * 80],
                                                 "candidate_labels": ["yes", "no"]})
    assert response.status_code == 422
    assert list(response.json["errors"]["inputs"]) == ["1"]
