"""Continuous batching of generation (service/models/generation.py) on a tiny real GPT-2.

Concurrent generations share decode steps and still give exactly the text each gives alone, which is
the text transformers' `generate` gives; rows join and leave the running batch; the row and token
limits hold; a timed-out generation leaves the batch; deterministic mode runs one at a time.
"""
import threading
import time

import pytest
import torch
from transformers import GenerationConfig

from aiqa_fixtures import write_profile
from service.models.generation import DecodeBatch, Sequence

# (prompt, max_new_tokens, temperature, top_p, seed): greedy and sampled, prompts and lengths apart.
CASES = [("Hello", 5, 0.0, 1.0, 1), ("The cat sat on the mat", 12, 0.8, 1.0, 7), ("One two", 9, 1.3, 0.9, 3),
         ("a", 20, 0.0, 1.0, 0), ("xyz abc def", 7, 0.5, 0.5, 11), ("Hello there friend", 15, 1.0, 1.0, 5),
         ("q", 3, 0.0, 1.0, 2), ("long prompt " * 5, 10, 0.9, 0.95, 9)]


def make_app(tmp_path, tiny_models, **config):
    from service import create_app
    profile = write_profile(tmp_path / "p.yaml", [
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}",
         "options": {"max_batch_size": 8, "dtype": "float32", **config.pop("options", {})}}])
    return create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "STORE": False, **config})


@pytest.fixture(scope="module")
def lm(tiny_models, tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("gen"), tiny_models).extensions["aiqa.registry"].get("tiny-lm", "generate")


def generate(lm, case) -> dict:
    prompt, n, temperature, top_p, seed = case
    return lm.generate(prompt=prompt, max_new_tokens=n, temperature=temperature, top_p=top_p, seed=seed)


def concurrently(lm, cases, stagger_s=0.0) -> list:
    out = [None] * len(cases)

    def run(i):
        time.sleep(i * stagger_s)
        out[i] = generate(lm, cases[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return out


class StepSizes:
    """Records the rows of every decode step of `lm` (a spy on the real method)."""

    def __init__(self, lm, monkeypatch):
        self.sizes, real = [], lm.decode_step

        def spy(batch, sequences):
            self.sizes.append(len(sequences))
            return real(batch, sequences)
        monkeypatch.setattr(lm, "decode_step", spy)


@pytest.mark.parametrize("stagger_s", [0.0, 0.003], ids=["together", "staggered"])
def test_eight_concurrent_generations_give_the_texts_each_gives_alone(lm, monkeypatch, stagger_s):
    alone = [generate(lm, case) for case in CASES]
    steps = StepSizes(lm, monkeypatch)
    together = concurrently(lm, CASES, stagger_s)
    assert [r["text"] for r in together] == [r["text"] for r in alone]
    assert together == alone  # tokens, finish reasons and seeds too
    assert max(steps.sizes) > 1, "the generations never shared a decode step"
    assert max(steps.sizes) <= 16  # twice max_batch_size, by default


def reference(lm, case) -> str:
    """transformers' generate: greedy, or sampling from the global generator seeded alike; top_k=0,
    since the service samples with temperature and top_p only (transformers adds top_k=50 unasked)."""
    prompt, n, temperature, top_p, seed = case
    ids = lm.encode(prompt)
    sample = temperature > 0
    config = GenerationConfig(max_new_tokens=n, do_sample=sample, temperature=temperature if sample else None,
                              top_p=top_p if sample else None, top_k=0, pad_token_id=lm.pad_id,
                              eos_token_id=lm.tokenizer.eos_token_id)
    with torch.inference_mode():
        torch.manual_seed(seed)
        inputs = torch.tensor([ids])
        output = lm.model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), generation_config=config)
    return lm.tokenizer.decode(output[0, len(ids):].tolist(), skip_special_tokens=True)


def test_texts_equal_transformers_generate_greedy_and_seeded(lm):
    assert [generate(lm, case)["text"] for case in CASES] == [reference(lm, case) for case in CASES]


def test_the_same_seed_gives_the_same_text_and_another_seed_another(lm):
    case = ("Once upon a time", 20, 1.0, 1.0, 42)
    first, again, other = generate(lm, case), generate(lm, case), generate(lm, case[:4] + (43,))
    assert first["text"] == again["text"] and first["seed"] == 42
    assert other["text"] != first["text"]


def test_rows_join_at_the_next_step_and_leave_when_done(lm, monkeypatch):
    # A long generation runs; a short one sent meanwhile finishes first, with its own text.
    steps = StepSizes(lm, monkeypatch)
    long_case, short_case = ("a", 55, 0.0, 1.0, 0), ("Hello", 3, 0.0, 1.0, 0)
    short_alone = generate(lm, short_case)
    finished = []

    def run(case):
        generate(lm, case)
        finished.append(case)
    runner = threading.Thread(target=run, args=(long_case,))
    runner.start()
    while len(steps.sizes) < 5:
        time.sleep(0.001)
    assert generate(lm, short_case) == short_alone
    finished.append(short_case)
    runner.join(30)
    assert finished[0] == short_case and long_case in finished
    assert 2 in steps.sizes and steps.sizes[-1] == 1  # they shared steps; the long one ended alone


def test_tokens_in_flight_bound_the_rows_that_run_at_once(tiny_models, tmp_path, monkeypatch):
    # Each case below takes its prompt + 20 new tokens (< 30); 60 tokens in flight: two rows at once.
    app = make_app(tmp_path, tiny_models, options={"max_tokens_in_flight": 60})
    lm = app.extensions["aiqa.registry"].get("tiny-lm", "generate")
    assert lm.max_tokens_in_flight == 60
    cases = [(f"row {i}", 20, 0.0, 1.0, 0) for i in range(6)]
    alone = [generate(lm, case) for case in cases]
    steps = StepSizes(lm, monkeypatch)
    assert concurrently(lm, cases) == alone
    assert max(steps.sizes) == 2


def test_max_generation_rows_bounds_the_rows_and_models_describe_the_limits(tiny_models, tmp_path, monkeypatch):
    app = make_app(tmp_path, tiny_models, options={"max_generation_rows": 3})
    lm = app.extensions["aiqa.registry"].get("tiny-lm", "generate")
    steps = StepSizes(lm, monkeypatch)
    cases = [(f"row {i}", 12, 0.0, 1.0, 0) for i in range(6)]
    assert [r["text"] for r in concurrently(lm, cases)] == [generate(lm, case)["text"] for case in cases]
    assert max(steps.sizes) == 3
    assert lm.describe()["generation"] == {
        "batching": "continuous", "max_rows": 3, "max_tokens_in_flight": 3 * 64, "window": 64, "backend": "transformers",
        "reproducible": lm.describe()["generation"]["reproducible"]}


@pytest.mark.parametrize("value", [0, 2.5, True, "8"])
def test_a_generation_limit_that_is_not_a_positive_integer_fails_the_model_at_load(tiny_models, tmp_path, value):
    app = make_app(tmp_path, tiny_models, options={"max_generation_rows": value})
    registry = app.extensions["aiqa.registry"]
    ready, missing = registry.readiness()
    assert not ready
    assert "max_generation_rows" in registry.slots["tiny-lm"].error


def test_deterministic_mode_runs_one_generation_at_a_time(tiny_models, tmp_path, monkeypatch):
    lm = make_app(tmp_path, tiny_models, DETERMINISTIC=True).extensions["aiqa.registry"].get("tiny-lm", "generate")
    steps = StepSizes(lm, monkeypatch)
    assert [r["text"] for r in concurrently(lm, CASES[:4])] == [generate(lm, case)["text"] for case in CASES[:4]]
    assert set(steps.sizes) == {1}
    assert lm.describe()["generation"]["batching"] == "off" and lm.describe()["generation"]["max_rows"] == 1


def test_a_timed_out_generation_leaves_the_batch_and_the_others_finish(lm, monkeypatch):
    from service.errors import Timeout
    steps = StepSizes(lm, monkeypatch)
    monkeypatch.setattr(lm.batch_settings, "timeout_s", 0.02)
    monkeypatch.setattr(lm.batch_settings, "max_work_s", 3600.0)  # admitted: the path of work let in
    slow = ("a", 60, 0.0, 1.0, 0)
    with pytest.raises(Timeout):
        generate(lm, slow)
    monkeypatch.setattr(lm.batch_settings, "timeout_s", 60.0)
    sizes_after_timeout = len(steps.sizes)
    assert generate(lm, ("Hello", 5, 0.0, 1.0, 1))["completion_tokens"] == 5
    # The timed-out row was dropped: the next generation ran alone, not beside it.
    assert set(steps.sizes[sizes_after_timeout:]) == {1}
    assert len(steps.sizes) - sizes_after_timeout <= 5


def test_decode_batch_pads_on_the_left_and_trims_columns_no_row_needs():
    def layers(rows, width, value):
        return [(torch.full((rows, 2, width, 4), value), torch.full((rows, 2, width, 4), -value))]

    def item(n):
        return type("Item", (), {"payload": Sequence(list(range(n)), 5, 0.0, 1.0, 0, None)})()

    batch = DecodeBatch()
    batch.add(item(3), layers(1, 3, 1.0))
    batch.add(item(6), layers(1, 6, 2.0))
    assert batch.mask.tolist() == [[0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]]
    keys = batch.layers[0][0]
    assert keys.shape == (2, 2, 6, 4) and keys[0, :, :3].abs().sum() == 0 and (keys[0, :, 3:] == 1).all()
    assert batch.tokens == (3 + 5) + (6 + 5)
    batch.keep([0])  # the long row leaves: its three columns of padding in the short row go too
    assert batch.mask.tolist() == [[1, 1, 1]] and batch.layers[0][1].shape == (1, 2, 3, 4)
    assert (batch.layers[0][1] == -1).all()
    batch.keep([])
    assert len(batch) == 0 and batch.layers is None


def test_a_sequence_is_done_at_its_stop_token_or_its_length():
    sequence = Sequence([1, 2], 3, 0.0, 1.0, 0, stop_id=7)
    assert not sequence.done
    sequence.choose(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))
    assert sequence.out == [7] and sequence.done
    sequence = Sequence([1, 2], 2, 0.0, 1.0, 0, stop_id=7)
    for _ in range(2):
        sequence.choose(torch.tensor([0.0, 1.0]))
    assert sequence.out == [1, 1] and sequence.done


def test_a_model_whose_cache_slides_generates_one_at_a_time(tiny_models, tmp_path, monkeypatch):
    # A sliding-window cache keeps the last positions only, so rows could not be padded to one width.
    from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

    from service import create_app
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["gpt2-lm"])
    torch.manual_seed(0)
    folder = tmp_path / "sliding"
    MistralForCausalLM(MistralConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                     num_attention_heads=2, num_key_value_heads=1, sliding_window=8,
                                     max_position_embeddings=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    profile = write_profile(tmp_path / "p.yaml", [{"name": "sliding", "task": "causal-lm", "source": f"dir:{folder}",
                                                   "options": {"max_batch_size": 8, "dtype": "float32"}}])
    lm = create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "STORE": False}).extensions[
        "aiqa.registry"].get("sliding", "generate")
    assert lm.max_generation_rows == 1 and lm.describe()["generation"]["max_rows"] == 1
    assert lm.describe()["generation"]["batching"] == "off"
    steps = StepSizes(lm, monkeypatch)
    cases = [(f"row {i} of words", 12, 0.0, 1.0, 0) for i in range(3)]
    assert [r["text"] for r in concurrently(lm, cases)] == [generate(lm, case)["text"] for case in cases]
    assert set(steps.sizes) == {1}
