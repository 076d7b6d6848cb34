"""Span-scoring QA on causal LMs: the cached, packed computation equals scoring each candidate on
its own; answers are slices of the context; and on the real SmolLM2 it answers simple questions."""
import numpy as np
import pytest
import torch

from service.models import ModelSpec, span_qa
from service.models.causal_lm import CausalLM
from service.models.sources import resolve

CONTEXT = "Paul lives in Madrid, 9:40."


@pytest.fixture(scope="module")
def plain_lm(tiny_models, tmp_path_factory):
    """tiny-lm with the plain prompt: its 64-token window cannot hold the chat template's."""
    spec = ModelSpec(name="tiny-plain", task="causal-lm", source=f"dir:{tiny_models['gpt2-lm']}",
                     options={"chat_template": False, "max_batch_size": 4})
    return CausalLM.load(spec, resolve(spec.source, str(tmp_path_factory.mktemp("cache"))), "cpu", torch.float32)


def test_words_keep_inner_punctuation_and_drop_the_final_stop():
    text = "At 9:40, O'Neil paid 1,000 euros for a well-known e-book."
    assert [text[a:b] for a, b in span_qa.words(text)] == [
        "At", "9:40", "O'Neil", "paid", "1,000", "euros", "for", "a", "well-known", "e-book"]


def test_rows_decode_to_the_slices_they_score(plain_lm):
    spans = span_qa.words(CONTEXT)
    for row in plain_lm.span_qa.candidate_rows(CONTEXT, spans, 3, " "):
        for k, end in enumerate(row.ends):
            text = CONTEXT[spans[row.first][0]:spans[row.first + k][1]]
            assert plain_lm.tokenizer.decode(row.ids[:end]) == " " + text


def direct_scores(lm, prompt, rows):
    """Each candidate alone: prompt + span + end token, one uncached, unpacked forward."""
    scores = []
    for row in rows:
        full = [(prompt.ids + row.ids[:end] + [prompt.end_id], len(prompt.ids)) for end in row.ends]
        scores.append(np.array([lp.sum() for lp in lm.token_logprobs(full)]))
    return scores


@pytest.mark.parametrize("chunk_tokens", [512, 7, 1])
def test_cached_packed_scores_equal_scoring_each_span_alone(plain_lm, monkeypatch, chunk_tokens):
    monkeypatch.setattr(span_qa, "CHUNK_TOKENS", chunk_tokens)  # 1: one row per forward pass
    qa = plain_lm.span_qa
    prompt = qa.build_prompt("Where?", CONTEXT)  # leaves room for the end token
    rows = qa.candidate_rows(CONTEXT, span_qa.words(CONTEXT), 3, prompt.lead)
    packed, null = qa.span_scores(prompt, rows)
    for ours, direct in zip(packed, direct_scores(plain_lm, prompt, rows)):
        np.testing.assert_allclose(ours, direct, atol=1e-4)
    assert null == pytest.approx(plain_lm.token_logprobs([(prompt.ids + [prompt.end_id], len(prompt.ids))])[0][0],
                                 abs=1e-4)


def test_answers_are_ranked_slices_whose_scores_sum_to_one(plain_lm):
    [answers], parameters = plain_lm.answer([("Where?", CONTEXT)], top_k=100, max_answer_len=3)
    assert parameters == {"max_answer_len": 3, "max_answer_len_unit": "words", "prompt_format": "plain"}
    assert len(answers) == 3 + 3 + 3 + 2 + 1  # 5 words, spans of up to 3
    assert sum(a["score"] for a in answers) == pytest.approx(1.0)
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    assert all(a["answer"] == CONTEXT[a["start"]:a["end"]] for a in answers)
    [with_null], _ = plain_lm.answer([("Where?", CONTEXT)], top_k=100, max_answer_len=3, handle_impossible_answer=True)
    assert {"answer": "", "start": 0, "end": 0} in [{k: a[k] for k in ("answer", "start", "end")} for a in with_null]


def test_a_batch_scores_as_its_items_alone(plain_lm):
    pairs = [("Where?", CONTEXT), ("Who?", "Anna met Tom.")]
    together, _ = plain_lm.answer(pairs, top_k=3)
    for pair, batched in zip(pairs, together):
        [alone], _ = plain_lm.answer([pair], top_k=3)
        assert [a["answer"] for a in alone] == [a["answer"] for a in batched]
        assert [a["score"] for a in alone] == pytest.approx([a["score"] for a in batched], abs=1e-5)


# Simple factoid questions, each context holding a distractor of the answer's kind.
FACTOIDS = [
    ("Marie moved to Lyon in 2015. Her brother Paul lives in Madrid, where he works as a chef.",
     "Where does Paul live?", {"madrid"}),
    ("The Eiffel Tower was completed in 1889. The Statue of Liberty was dedicated in 1886.",
     "When was the Eiffel Tower completed?", {"1889", "in 1889"}),
    ("Anna owns a red bicycle and a blue car.", "What color is Anna's car?", {"blue", "a blue car", "blue car"}),
    ("The meeting with the sales team is on Monday. The meeting with the design team is on Thursday.",
     "On which day is the meeting with the design team?", {"thursday", "on thursday"}),
    ("Tom is 12 years old and his sister Lisa is 9 years old.", "How old is Lisa?", {"9", "9 years old", "9 years"}),
    ("The capital of Australia is Canberra, although Sydney is its largest city.",
     "What is the capital of Australia?", {"canberra"}),
]


@pytest.fixture(scope="module")
def smollm2(default_app):
    return default_app.extensions["aiqa.registry"].get("smollm2", "qa")


@pytest.mark.slow
def test_smollm2_answers_simple_factoid_questions(default_app):
    client = default_app.test_client()
    body = client.post("/v1/qa", json={"inputs": [{"question": q, "context": c} for c, q, _ in FACTOIDS]}).json
    assert body["model"] == "smollm2" and body["prompt_format"] == "chat"
    right = 0
    for (context, _, gold), [best] in zip(FACTOIDS, body["results"]):
        assert best["answer"] == context[best["start"]:best["end"]]
        right += best["answer"].lower() in gold
    assert right >= 4, body["results"]


@pytest.mark.slow
def test_smollm2_packed_scores_equal_scoring_each_span_alone(smollm2):
    context, question, _ = FACTOIDS[0]
    qa = smollm2.span_qa
    prompt = qa.build_prompt(question, context)
    rows = qa.candidate_rows(context, span_qa.words(context), 5, prompt.lead)[8:14]
    packed, _ = qa.span_scores(prompt, rows)
    for ours, direct in zip(packed, direct_scores(smollm2, prompt, rows)):
        np.testing.assert_allclose(ours, direct, atol=2e-3)
