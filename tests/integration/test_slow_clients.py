"""Slow clients cannot starve the service: gunicorn as `make run`, the image and the pod start it
(gunicorn.conf.py, service/serving.py). 200 connections trickle their headers or their bodies a
byte at a time; meanwhile /livez and a classify request are answered as usual, and the slow ones
get 408 (or are closed) once AIQA_READ_TIMEOUT_S has passed."""
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from aiqa_fixtures import tiny_server

pytestmark = pytest.mark.slow
READ_TIMEOUT_S = 4
SLOW = 200


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    server = tiny_server(tmp_path_factory.mktemp("slow"), tiny_models, workers=1,
                         AIQA_READ_TIMEOUT_S=str(READ_TIMEOUT_S), AIQA_THREADS="16")
    server.start()
    yield server
    server.stop()


class Trickler(threading.Thread):
    """One connection that sends `prefix` at once, then `data` a byte every `pause` seconds, then
    reads what comes back until the server closes it."""

    def __init__(self, port: int, prefix: bytes, data: bytes, pause: float = 0.5):
        super().__init__(daemon=True)
        self.port, self.prefix, self.data, self.pause = port, prefix, data, pause
        self.answer, self.closed_after = b"", None
        self.started_at = time.monotonic()

    def run(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            sock.sendall(self.prefix)
            for byte in self.data:
                sock.sendall(bytes([byte]))
                time.sleep(self.pause)
        except OSError:
            pass  # the server closed the connection on us: what is expected past the deadline
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                self.answer += chunk
        except OSError:
            pass
        self.closed_after = time.monotonic() - self.started_at
        sock.close()


def slow_requests(port: int) -> list[Trickler]:
    """Half trickle their headers, half send their headers and then trickle their body."""
    body = json.dumps({"model": "tiny-classifier", "inputs": ["a slow request"] * 20}).encode()
    head = (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return [Trickler(port, b"", head) if number % 2 else Trickler(port, head, body) for number in range(SLOW)]


def test_slow_clients_do_not_starve_the_service(server):
    tricklers = slow_requests(server.port)
    for trickler in tricklers:
        trickler.start()
    time.sleep(1.0)  # every slow connection is open and sending
    classify = {"model": "tiny-classifier", "inputs": ["fine", "awful"]}
    for _ in range(5):
        started = time.monotonic()
        assert requests.get(server.url + "/livez", timeout=10).status_code == 200
        livez = time.monotonic() - started
        assert livez < 1.0, f"/livez took {livez:.2f} s with {SLOW} slow connections open"
        answer = requests.post(server.url + "/v1/classify", json=classify, timeout=10)
        assert answer.status_code == 200
    for trickler in tricklers:
        trickler.join(timeout=READ_TIMEOUT_S + 30)
    assert all(not trickler.is_alive() for trickler in tricklers), "a slow connection was never closed"
    for trickler in tricklers:
        assert trickler.closed_after < READ_TIMEOUT_S + 3, trickler.closed_after
        assert trickler.answer == b"" or trickler.answer.startswith(b"HTTP/1.1 408 "), trickler.answer[:200]
        if trickler.answer:
            assert b"application/problem+json" in trickler.answer and b'"status": 408' in trickler.answer
    assert sum(trickler.answer.startswith(b"HTTP/1.1 408 ") for trickler in tricklers) >= SLOW // 2


def test_a_probe_is_answered_while_every_request_thread_is_busy(tiny_models, tmp_path):
    """The probes have threads of their own: with both request threads held by long model calls
    (and two more waiting for them), /livez is answered before any of those calls finishes."""
    server = tiny_server(tmp_path, tiny_models, workers=1, AIQA_THREADS="2", AIQA_MAX_QUEUE="100000",
                         AIQA_MAX_WORK_S="100000", AIQA_REQUEST_TIMEOUT_S="300").start()
    # (a queue and a work limit that admit every call, and a timeout none reaches: the test needs them
    # running, not refused; on a slow machine admission by cost can estimate one over the default 60 s)
    text = " ".join(f"w{i}" for i in range(300))
    long = {"model": "tiny-lm", "inputs": [text] * 2, "max_length": 64, "stride": 1}
    try:
        with ThreadPoolExecutor(4) as pool:
            busy = [pool.submit(requests.post, server.url + "/v1/perplexity", json=long, timeout=300)
                    for _ in range(4)]
            time.sleep(0.5)
            assert requests.get(server.url + "/livez", timeout=60).status_code == 200
            finished = [future.done() for future in busy]
            assert [future.result().status_code for future in busy] == [200] * 4
        assert not any(finished), "/livez waited for a request thread"
    finally:
        server.stop()


def test_requests_that_arrive_whole_are_served_as_before(server):
    with requests.Session() as session:  # keep-alive: the next request on the connection is read the same way
        for _ in range(3):
            assert session.post(server.url + "/v1/classify", json={"model": "tiny-classifier", "inputs": "ok"}).ok
    pieces = iter([b'{"model": "tiny-classifier", ', b'"inputs": "ok"}'])  # sent chunked
    chunked = requests.post(server.url + "/v1/classify", data=pieces, headers={"Content-Type": "application/json"},
                            timeout=10)
    assert chunked.status_code == 200, chunked.text
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    body = b'{"model": "tiny-classifier", "inputs": "ok"}'
    sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
    sock.sendall(body)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"100 Continue" not in answer
    sock.close()
    too_large = requests.post(server.url + "/v1/classify", data=b"x" * (3 * 1024 * 1024),
                              headers={"Content-Type": "application/json"}, timeout=30)
    assert too_large.status_code == 413
