"""Scores do not depend on the batch a request landed in (pad-aware computation, fp32)."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import REGISTRY

from aiqa_fixtures import write_profile
from service import create_app

TEXTS = ["Hi there", "A somewhat longer sentence with several more tokens in it than the first.",
         " ".join(["long"] * 90), "Mid-sized text, neither short nor long.", "Ok then", "x y z " * 12]


@pytest.fixture(scope="module")
def registry(tiny_models, tmp_path_factory):
    options = {"max_batch_size": 4, "max_wait_ms": 50, "max_gap_ms": 0, "dtype": "float32"}
    path = write_profile(tmp_path_factory.mktemp("b") / "batch.yaml", [
        {"name": "b-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}", "options": options},
        {"name": "b-classifier", "task": "text-classification", "source": f"dir:{tiny_models['bert-classifier']}",
         "options": options},
    ])
    return create_app({"MODELS": path, "LOAD_IN_BACKGROUND": False}).extensions["aiqa.registry"]


def batch_sizes(model):
    return (REGISTRY.get_sample_value("aiqa_batch_size_sum", {"model": model}) or 0,
            REGISTRY.get_sample_value("aiqa_batch_size_count", {"model": model}) or 0)


def concurrently(fn, items):
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(fn, items))


def test_perplexity_alone_equals_perplexity_in_a_mixed_batch(registry):
    model = registry.get("b-lm", "perplexity")
    alone = [model.perplexity([t], 32, 16)[0][0].perplexity for t in TEXTS]
    before = batch_sizes("b-lm")
    together = concurrently(lambda t: model.perplexity([t], 32, 16)[0][0].perplexity, TEXTS * 3)
    items, batches = (a - b for a, b in zip(batch_sizes("b-lm"), before))
    assert items > batches, "no two requests shared a forward pass"
    assert together == pytest.approx(alone * 3, rel=1e-5)


def test_classifier_scores_alone_equal_scores_in_a_mixed_batch(registry):
    model = registry.get("b-classifier", "classify")
    alone = [model.classify([t])[0] for t in TEXTS]
    together = concurrently(lambda t: model.classify([t])[0], TEXTS * 3)
    for a, b in zip(alone * 3, together):
        assert list(a) == list(b)
        assert list(a.values()) == pytest.approx(list(b.values()), abs=1e-5)
