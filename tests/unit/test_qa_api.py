"""/v1/qa request forms, answers that are always slices of their context, and the 4xx answers."""
import pytest

CONTEXT = "Anna lives in Lyon. Her brother Paul lives in Madrid, where he works as a chef."


@pytest.fixture(scope="module")
def client(tiny_app):
    return tiny_app.test_client()


def post(client, body):
    return client.post("/v1/qa", json=body)


def test_single_question_answers_with_slices_of_the_context(client):
    body = post(client, {"model": "tiny-qa", "question": "Where does Paul live?", "context": CONTEXT, "top_k": 3}).json
    assert body["model"] == "tiny-qa" and body["revision"] and body["top_k"] == 3
    assert body["max_answer_len"] == 15 and body["max_answer_len_unit"] == "tokens"
    [answers] = body["results"]
    assert len(answers) == 3
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    for a in answers:
        assert a["answer"] == CONTEXT[a["start"]:a["end"]] and set(a) == {"answer", "score", "start", "end"}


def test_request_forms_agree(client):
    questions = ["Where does Paul live?", "Who is a chef?"]
    single = [post(client, {"model": "tiny-qa", "question": q, "context": CONTEXT}).json["results"][0]
              for q in questions]
    listed = post(client, {"model": "tiny-qa", "question": questions, "context": CONTEXT}).json["results"]
    paired = post(client, {"model": "tiny-qa", "question": questions, "context": [CONTEXT, CONTEXT]}).json["results"]
    inputs = post(client, {"model": "tiny-qa", "inputs": [{"question": q, "context": CONTEXT} for q in questions]})
    for results in (listed, paired, inputs.json["results"]):
        assert [[(a["answer"], a["start"]) for a in r] for r in results] == [[(a["answer"], a["start"]) for a in r]
                                                                             for r in single]
        assert [r[0]["score"] for r in results] == pytest.approx([r[0]["score"] for r in single], abs=1e-6)


def test_impossible_answer_is_an_empty_slice(client):
    body = post(client, {"model": "tiny-qa", "question": "Why?", "context": "No.", "top_k": 50,
                         "handle_impossible_answer": True}).json
    null = [a for a in body["results"][0] if a["answer"] == ""]
    assert null and all(a["start"] == a["end"] == 0 for a in null) and body["handle_impossible_answer"] is True


def assert_problem(response, status, field=None):
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    if field:
        assert field in response.json["errors"], response.json


@pytest.mark.parametrize("body, field", [
    ({"question": "Where?", "context": ""}, "context"),
    ({"question": "Where?", "context": "   "}, "context"),
    ({"question": "", "context": CONTEXT}, "question"),
    ({"question": "Where?", "context": CONTEXT, "max_answer_len": 0}, "max_answer_len"),
    ({"question": "Where?", "context": CONTEXT, "top_k": 0}, "top_k"),
    ({"question": "Where?"}, "context"),
    ({"context": CONTEXT}, "question"),
    ({"question": "Where?", "context": CONTEXT, "inputs": [{"question": "a", "context": "b"}]}, "inputs"),
    ({"inputs": []}, "inputs"),
    ({"inputs": ["Where?"]}, "inputs"),
    ({"inputs": [{"question": "Where?"}]}, "inputs"),
    ({"question": ["a", "b", "c"], "context": ["x", "y"]}, "context"),
    ({"question": "Where?", "context": CONTEXT, "temperature": 1}, "temperature"),
])
def test_invalid_requests_are_422(client, body, field):
    assert_problem(post(client, {"model": "tiny-qa", **body}), 422, field)


def test_context_over_the_limit_is_422(client, tiny_app):
    too_long = "word " * (tiny_app.config["MAX_TEXT_CHARS"] // 5 + 1)
    assert_problem(post(client, {"model": "tiny-qa", "question": "Where?", "context": too_long}), 422, "context")


def test_question_that_fills_the_window_is_422(client):
    question = "where " * 40  # the tiny head reads 64 tokens and keeps 32 of overlap
    response = post(client, {"model": "tiny-qa", "inputs": [{"question": "Where?", "context": CONTEXT},
                                                             {"question": question, "context": CONTEXT}]})
    assert_problem(response, 422, "inputs")
    assert "question" in response.json["errors"]["inputs"]["1"]


def test_unknown_model_is_404_and_other_tasks_are_422(client):
    assert_problem(post(client, {"model": "nope", "question": "Where?", "context": CONTEXT}), 404, "model")
    assert_problem(post(client, {"model": "tiny-classifier", "question": "Where?", "context": CONTEXT}), 422, "model")
    assert_problem(post(client, {"model": "tiny-ner", "question": "Where?", "context": CONTEXT}), 422, "model")


def test_causal_lm_window_and_span_limits_are_422(client):
    # tiny-lm reads 64 tokens: its QA prompt alone does not fit.
    assert_problem(post(client, {"model": "tiny-lm", "question": "Where?", "context": CONTEXT}), 422, "context")
    assert_problem(post(client, {"model": "tiny-lm", "question": "Where?", "context": CONTEXT,
                                 "max_answer_len": 33}), 422, "max_answer_len")


def test_batch_over_the_limit_is_413(client, tiny_app):
    inputs = [{"question": "Where?", "context": "Here."}] * (tiny_app.config["MAX_ITEMS"] + 1)
    assert_problem(post(client, {"model": "tiny-qa", "inputs": inputs}), 413)


def test_a_context_the_tokenizer_drops_entirely_gets_the_empty_answer(client):
    body = post(client, {"model": "tiny-qa", "question": "Why?", "context": "\u200b"}).json
    assert body["results"] == [[{"answer": "", "score": 0.0, "start": 0, "end": 0}]]
