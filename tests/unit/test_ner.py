"""/v1/ner on a tiny token classifier equals transformers' token-classification pipeline for every
aggregation; word labels line up with whitespace words as BIO tags that seqeval scores."""
import re

import numpy as np
import pytest
import torch
from seqeval.metrics import f1_score
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

from service.models.token_classifier import to_bio

TEXTS = [
    "Angela Merkel visited Washington and met executives of Microsoft Corporation in 2019.",
    "EU rejects German call to boycott British lamb .",
    "Ok",
    "Hugging Face Inc. is a company based in New York City; its headquarters are in DUMBO, Brooklyn.",
    "naïve café owners in Zürich   use  unusual   spacing",
]
AGGREGATIONS = ["none", "simple", "first", "average", "max"]


@pytest.fixture(scope="module")
def client(tiny_app):
    return tiny_app.test_client()


@pytest.fixture(scope="module")
def tiny(tiny_models):
    path = tiny_models["bert-ner"]
    return AutoModelForTokenClassification.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def ner(client, **body):
    response = client.post("/v1/ner", json={"model": "tiny-ner", **body})
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_entities_equal_the_pipeline(client, tiny, aggregation):
    model, tokenizer = tiny
    reference = pipeline("token-classification", model=model, tokenizer=tokenizer, device="cpu",
                         aggregation_strategy=aggregation)
    body = ner(client, inputs=TEXTS, aggregation=aggregation)
    assert body["aggregation"] == aggregation and len(body["results"]) == len(TEXTS)
    for ours, theirs in zip(body["results"], reference(TEXTS)):
        assert [(e["entity"], e["word"], e["start"], e["end"]) for e in ours] == [
            (t.get("entity_group", t.get("entity")), t["word"], t["start"], t["end"]) for t in theirs]
        assert [e["score"] for e in ours] == pytest.approx([float(t["score"]) for t in theirs], abs=1e-5)
    assert any(body["results"]), "the tiny model should find some entities"


def reference_word_tags(model, tokenizer, text, strategy):
    """Each whitespace word's label from its sub-tokens' probabilities, one unbatched forward."""
    encoded = tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    offsets = encoded.pop("offset_mapping")[0].tolist()
    with torch.inference_mode():
        probs = model(**encoded).logits[0].softmax(-1).numpy()
    tags = []
    for word in re.finditer(r"\S+", text):
        rows = [probs[i] for i, (a, b) in enumerate(offsets) if b > a and word.start() <= a < word.end()]
        if strategy == "first":
            row = rows[0]
        elif strategy == "average":
            row = np.mean(rows, axis=0)
        else:
            row = max(rows, key=lambda r: r.max())
        tags.append(model.config.id2label[int(row.argmax())])
    return tags  # the tiny model's labels are BIO already


@pytest.mark.parametrize("aggregation, strategy", [
    ("simple", "first"), ("none", "first"), ("first", "first"), ("average", "average"), ("max", "max")])
def test_word_labels_are_bio_tags_of_whitespace_words(client, tiny, aggregation, strategy):
    body = ner(client, inputs=TEXTS, aggregation=aggregation, word_labels=True)
    assert body["words"] == [text.split() for text in TEXTS]
    assert body["tags"] == [reference_word_tags(*tiny, text, strategy) for text in TEXTS]
    assert body["results"] == ner(client, inputs=TEXTS, aggregation=aggregation)["results"]
    assert f1_score(body["tags"], body["tags"]) == pytest.approx(1.0)  # the shape seqeval takes


def test_no_word_labels_unless_asked(client):
    assert set(ner(client, inputs="Paris")) == {"model", "revision", "aggregation", "results"}


def test_bare_labels_become_bio():
    assert to_bio(["PER", "PER", "O", "LOC", "B-ORG", "I-ORG", "PER"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-ORG", "I-ORG", "B-PER"]


def assert_problem(response, status, field=None):
    assert response.status_code == status and response.mimetype == "application/problem+json", response.json
    if field:
        assert field in response.json["errors"], response.json


@pytest.mark.parametrize("body, field", [
    ({"inputs": ""}, "inputs"),
    ({"inputs": []}, "inputs"),
    ({"inputs": ["ok", "  "]}, "inputs"),
    ({"inputs": "Paris", "aggregation": "mean"}, "aggregation"),
    ({"inputs": "Paris", "word_labels": "maybe"}, "word_labels"),
    ({"inputs": "Paris", "top_k": 2}, "top_k"),
    ({"inputs": ["Paris", "word " * 200]}, "inputs"),  # over the tiny model's 128 tokens
])
def test_invalid_requests_are_422(client, body, field):
    assert_problem(client.post("/v1/ner", json={"model": "tiny-ner", **body}), 422, field)


def test_unknown_model_is_404_and_other_tasks_are_422(client):
    assert_problem(client.post("/v1/ner", json={"model": "nope", "inputs": "Paris"}), 404, "model")
    for other in ("tiny-qa", "tiny-lm", "tiny-classifier"):
        assert_problem(client.post("/v1/ner", json={"model": other, "inputs": "Paris"}), 422, "model")


def test_scores_do_not_depend_on_the_batch(client):
    alone = [ner(client, inputs=text)["results"][0] for text in TEXTS]
    together = ner(client, inputs=TEXTS)["results"]
    for a, b in zip(alone, together):
        assert [e["entity"] for e in a] == [e["entity"] for e in b]
        np.testing.assert_allclose([e["score"] for e in a], [e["score"] for e in b], atol=1e-5)
