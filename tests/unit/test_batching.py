"""The dynamic batcher with plain functions: batching, order, splitting, backpressure, timeouts."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from prometheus_client import REGISTRY

from service.batching import Batcher, BatchSettings
from service.errors import ModelUnavailable, Overloaded, Timeout


class Recorder:
    """fn for a batcher: squares numbers, records every batch it saw, can be held at a gate."""

    def __init__(self):
        self.batches = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items):
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(list(items))
        return [x * x for x in items]


def make(name, fn, settings, **kwargs):
    """A batcher over numbers, whose 'length' is their value."""
    return Batcher(name, fn, settings, length=lambda x: x, **kwargs)


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_concurrent_requests_get_their_own_answers_in_order():
    fn = Recorder()
    batcher = make("t-order", fn, BatchSettings(max_batch_size=8, max_wait_ms=20))
    requests = [list(range(i, i + 1 + i % 3)) for i in range(64)]
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(batcher.submit, requests))
    assert answers == [[x * x for x in r] for r in requests]
    assert max(len(b) for b in fn.batches) <= 8
    assert any(len(b) > 1 for b in fn.batches), "concurrent requests were never merged"


def test_with_a_gap_set_a_batch_closes_when_arrivals_pause_not_at_max_wait():
    """max_gap_ms: requests arriving closer together than the gap share a batch; once none has come
    for the gap, the batch runs, long before max_wait_ms (10 s here) would have ended the wait."""
    fn = Recorder()
    batcher = make("t-gap", fn, BatchSettings(max_batch_size=8, max_wait_ms=10_000, max_gap_ms=1000))
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        futures = []
        for n in (1, 2, 3):
            futures.append(pool.submit(batcher.submit, [n]))
            time.sleep(0.05)
        assert [f.result() for f in futures] == [[1], [4], [9]]
    assert len(fn.batches) == 1 and sorted(fn.batches[0]) == [1, 2, 3]
    assert time.monotonic() - started < 8
    alone = time.monotonic()
    assert batcher.submit([5]) == [25] and time.monotonic() - alone < 8  # a lone request: the gap, not 10 s
    assert fn.batches[-1] == [5]


def test_without_a_gap_a_lone_request_waits_max_wait():
    fn = Recorder()
    batcher = make("t-nogap", fn, BatchSettings(max_batch_size=8, max_wait_ms=300, max_gap_ms=0))
    started = time.monotonic()
    assert batcher.submit([2]) == [4]
    assert time.monotonic() - started >= 0.3


def test_large_request_is_split_never_oversized():
    fn = Recorder()
    batcher = make("t-split", fn, BatchSettings(max_batch_size=4, max_wait_ms=0))
    assert batcher.submit(list(range(10))) == [x * x for x in range(10)]
    assert sorted(len(b) for b in fn.batches) == [2, 4, 4]


def test_similar_lengths_run_together_and_oldest_is_served():
    fn = Recorder()
    fn.gate.clear()
    batcher = make("t-group", fn, BatchSettings(max_batch_size=2, max_wait_ms=0))
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.submit, [0])
        fn.entered.wait(5)  # the batcher is busy with [0]; the rest queue up
        waiting = [pool.submit(batcher.submit, [n]) for n in (1, 100, 2, 101)]
        while len(batcher._pending) < 4:
            threading.Event().wait(0.01)
        fn.gate.set()
        assert first.result() == [0] and [w.result() for w in waiting] == [[1], [10000], [4], [10201]]
    # Lengths are the values here: the oldest waiting item (1) ran with its nearest neighbour.
    assert sorted(fn.batches[1]) == [1, 2] and sorted(fn.batches[2]) == [100, 101]


def test_full_queue_answers_429_with_retry_after():
    fn = Recorder()
    fn.gate.clear()
    batcher = make("t-full", fn, BatchSettings(max_batch_size=1, max_wait_ms=0, max_queue=2))
    with ThreadPoolExecutor(4) as pool:
        running = pool.submit(batcher.submit, [1])
        fn.entered.wait(5)
        queued = pool.submit(batcher.submit, [2, 3])
        while len(batcher._pending) < 2:
            threading.Event().wait(0.01)
        with pytest.raises(Overloaded) as info:
            batcher.submit([4])
        assert info.value.status == 429 and int(info.value.headers["Retry-After"]) >= 1
        assert sample("aiqa_queue_depth", model="t-full") == 2
        fn.gate.set()
        assert running.result() == [1] and queued.result() == [4, 9]
    assert sample("aiqa_queue_depth", model="t-full") == 0


def test_timeout_answers_504_and_drops_the_work():
    fn = Recorder()
    fn.gate.clear()
    batcher = make("t-timeout", fn, BatchSettings(max_batch_size=1, max_wait_ms=0, timeout_s=0.2))
    with ThreadPoolExecutor(2) as pool:
        blocker = pool.submit(batcher.submit, [1])
        fn.entered.wait(5)
        with pytest.raises(Timeout) as info:
            batcher.submit([2])
        assert info.value.status == 504
        assert batcher._pending == []  # dropped, will never run
        fn.gate.set()
        with pytest.raises(Timeout):
            blocker.result()
    assert [2] not in fn.batches


def test_out_of_memory_splits_the_batch_and_fails_only_what_does_not_fit():
    def fn(items):
        if len(items) > 2 or 99 in items:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return [x + 1 for x in items]

    batcher = make("t-oom", fn, BatchSettings(max_batch_size=8, max_wait_ms=0),
                      is_oom=lambda exc: isinstance(exc, torch.OutOfMemoryError))
    assert batcher.submit(list(range(8))) == list(range(1, 9))
    with pytest.raises(ModelUnavailable) as info:
        batcher.submit([1, 99])
    assert info.value.status == 503


def test_other_errors_reach_the_caller():
    def fn(items):
        raise ValueError("broken input")

    with pytest.raises(ValueError, match="broken input"):
        make("t-error", fn, BatchSettings(max_wait_ms=0)).submit([1])


def test_without_merging_a_batch_holds_one_request():
    fn = Recorder()
    batcher = make("t-nomerge", fn, BatchSettings(max_batch_size=8, max_wait_ms=20, merge=False))
    requests = [[i, i + 100] for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(batcher.submit, requests)) == [[x * x for x in r] for r in requests]
    assert sorted(map(sorted, fn.batches)) == sorted(map(sorted, requests))


def test_queue_and_batch_metrics_move():
    before_batches = sample("aiqa_queue_duration_seconds_count", model="t-metrics")
    batcher = make("t-metrics", Recorder(), BatchSettings(max_batch_size=4, max_wait_ms=0))
    batcher.submit([1, 2, 3])
    assert sample("aiqa_queue_duration_seconds_count", model="t-metrics") - before_batches == 3
