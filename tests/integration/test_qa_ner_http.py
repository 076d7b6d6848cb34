"""/v1/qa and /v1/ner over HTTP on a real gunicorn server: the default profile (SmolLM2 answers
questions out of the box) plus the tiny QA and NER heads."""
import pytest
import requests

pytestmark = pytest.mark.slow
CONTEXT = "Marie moved to Lyon in 2015. Her brother Paul lives in Madrid, where he works as a chef."
LONG = " ".join(f"Sentence {i} says that item {i} belongs to owner number {i * 7}." for i in range(40))


def post(server, path, **kwargs):
    return requests.post(f"{server.url}{path}", timeout=120, **kwargs)


def test_default_qa_model_answers_from_the_context(live_server):
    body = post(live_server, "/v1/qa", json={"question": "Where does Paul live?", "context": CONTEXT}).json()
    assert body["model"] == "smollm2" and body["max_answer_len_unit"] == "words"
    [[best]] = body["results"]
    assert best["answer"] == "Madrid" and CONTEXT[best["start"]:best["end"]] == "Madrid"


def test_extractive_head_over_a_long_context_equals_in_process(live_server, tiny_app):
    case = {"question": "Who owns item 31?", "context": LONG, "top_k": 3, "handle_impossible_answer": True}
    body = post(live_server, "/v1/qa", json={"model": "tiny-qa", **case}).json()
    local = tiny_app.test_client().post("/v1/qa", json={"model": "tiny-qa", **case}).json
    assert [(a["answer"], a["start"], a["end"]) for a in body["results"][0]] == [
        (a["answer"], a["start"], a["end"]) for a in local["results"][0]]
    scores = [a["score"] for a in local["results"][0]]
    assert [a["score"] for a in body["results"][0]] == pytest.approx(scores, abs=1e-5)
    assert all(a["answer"] == LONG[a["start"]:a["end"]] for a in body["results"][0])


def test_ner_with_word_labels(live_server):
    texts = ["Angela Merkel visited Washington .", "EU rejects German call to boycott British lamb ."]
    body = post(live_server, "/v1/ner", json={"model": "tiny-ner", "inputs": texts, "word_labels": True}).json()
    assert body["aggregation"] == "simple" and len(body["results"]) == 2
    assert body["words"] == [t.split() for t in texts]
    assert [len(tags) for tags in body["tags"]] == [len(t.split()) for t in texts]
    for text, entities in zip(texts, body["results"]):
        assert all(set(e) == {"entity", "word", "start", "end", "score"} and 0 <= e["start"] < e["end"] <= len(text)
                   for e in entities)


@pytest.mark.parametrize("path, body, status", [
    ("/v1/qa", {"question": "Where?", "context": ""}, 422),
    ("/v1/qa", {"question": "", "context": CONTEXT}, 422),
    ("/v1/qa", {"question": "Where?", "context": "x" * 20_001}, 422),
    ("/v1/qa", {"question": "Where?", "context": CONTEXT, "max_answer_len": 0}, 422),
    ("/v1/qa", {"model": "nope", "question": "Where?", "context": CONTEXT}, 404),
    ("/v1/qa", {"model": "minilm", "question": "Where?", "context": CONTEXT}, 422),
    ("/v1/qa", {"model": "tiny-ner", "question": "Where?", "context": CONTEXT}, 422),
    ("/v1/ner", {"model": "smollm2", "inputs": "Paris"}, 422),
    ("/v1/ner", {"model": "tiny-ner", "inputs": "Paris", "aggregation": "mean"}, 422),
])
def test_bad_input_is_problem_json_and_the_server_stays_healthy(live_server, path, body, status):
    response = post(live_server, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert requests.get(f"{live_server.url}/livez", timeout=10).status_code == 200
    healthy = post(live_server, "/v1/qa", json={"model": "tiny-qa", "question": "Who?", "context": CONTEXT})
    assert healthy.status_code == 200
