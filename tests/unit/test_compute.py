"""The compute thread (service/compute.py): every batch of every model runs on one thread."""
import threading

import pytest

from service.batching import Batcher, BatchSettings
from service.compute import COMPUTE, ComputeThread


def test_calls_run_on_one_thread_in_order_and_return_or_raise():
    compute = ComputeThread("test-compute")
    names = [compute.run(lambda: threading.current_thread().name) for _ in range(3)]
    assert names == ["test-compute"] * 3
    assert compute.run(lambda: compute.run(lambda: 42)) == 42  # from the compute thread itself: directly
    with pytest.raises(ZeroDivisionError):
        compute.run(lambda: 1 / 0)
    assert compute.run(lambda: "still serving") == "still serving"


def test_batches_of_different_batchers_run_on_the_compute_thread():
    seen = []

    def fn(payloads):
        seen.append(threading.current_thread())
        return payloads

    batchers = [Batcher(f"m{i}", fn, BatchSettings(max_wait_ms=0)) for i in range(3)]
    for batcher in batchers:
        assert batcher.submit(["a", "bc"]) == ["a", "bc"]
    assert {thread.name for thread in seen} == {COMPUTE.name} and len(set(seen)) == 1


def test_the_models_forward_passes_run_on_the_compute_thread(tiny_app, monkeypatch):
    registry = tiny_app.extensions["aiqa.registry"]
    threads = set()
    for name, capability in (("tiny-classifier", "classify"), ("tiny-lm", "perplexity")):
        model = registry.get(name, capability)
        real = model.forward

        def spy(batch_size, real=real):
            threads.add(threading.current_thread().name)
            return real(batch_size)
        monkeypatch.setattr(model, "forward", spy)
    client = tiny_app.test_client()
    assert client.post("/v1/classify", json={"model": "tiny-classifier", "inputs": ["fine"]}).status_code == 200
    assert client.post("/v1/perplexity", json={"model": "tiny-lm", "inputs": ["a few words"]}).status_code == 200
    assert client.post("/v1/generate", json={"model": "tiny-lm", "prompt": "Hi", "max_new_tokens": 3}).status_code == 200
    assert threads == {COMPUTE.name}
