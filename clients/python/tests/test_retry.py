"""Retries on 429 and 503 for idempotent calls only, honouring Retry-After, against real HTTP servers."""
import email.utils
import time

import pytest
import requests

from aiqa_client import Client, errors
from aiqa_client.retry import RetryPolicy, retry_after

CLASSIFIED = {"model": "m", "results": [[{"label": "POSITIVE", "score": 0.9}]]}
OVERLOADED = {"type": "urn:aiqa:problem:overloaded", "title": "Too many requests", "status": 429, "detail": "full"}
UNAVAILABLE = {"type": "urn:aiqa:problem:model-unavailable", "status": 503, "detail": "loading"}


def test_429_then_200_waits_retry_after_and_succeeds(scripted):
    server = scripted([(429, {"Retry-After": "1"}, OVERLOADED), (200, {}, CLASSIFIED)])
    with Client(server.url) as client:
        answer = client.classify("I love this")
    assert answer.labels == ["POSITIVE"]
    (first, *_), (second, *_) = server.arrivals
    assert len(server.arrivals) == 2 and second - first >= 0.95


def test_503_without_retry_after_backs_off_and_succeeds(scripted):
    server = scripted([(503, {}, UNAVAILABLE), (503, {}, UNAVAILABLE), (200, {}, CLASSIFIED)])
    with Client(server.url, backoff=0.05) as client:
        assert client.classify("x").labels == ["POSITIVE"]
    assert len(server.arrivals) == 3


def test_retries_run_out_and_the_last_error_is_raised(scripted):
    server = scripted([(429, {"Retry-After": "0"}, OVERLOADED)])
    with Client(server.url, retries=2) as client, pytest.raises(errors.Overloaded) as info:
        client.similarity([["a", "b"]])
    assert len(server.arrivals) == 3 and info.value.retry_after == 0


def test_sampling_without_a_seed_is_not_retried(scripted):
    server = scripted([(429, {"Retry-After": "0"}, OVERLOADED), (200, {}, {"model": "m", "text": "x", "seed": 1})])
    with Client(server.url) as client:
        with pytest.raises(errors.Overloaded):
            client.generate("Once", temperature=0.8)
        assert len(server.arrivals) == 1
        assert client.generate("Once", temperature=0.8, seed=3).text == "x"  # reproducible: retried


def test_a_retry_after_longer_than_max_wait_is_raised_not_slept(scripted):
    server = scripted([(429, {"Retry-After": "3600"}, OVERLOADED), (200, {}, CLASSIFIED)])
    with Client(server.url, max_wait=5) as client, pytest.raises(errors.Overloaded) as info:
        client.classify("x")
    assert info.value.retry_after == 3600 and len(server.arrivals) == 1


def test_other_errors_are_not_retried(scripted):
    server = scripted([(422, {}, {"type": "urn:aiqa:problem:validation-error", "errors": {"inputs": ["bad"]}})])
    with Client(server.url) as client, pytest.raises(errors.ValidationFailed):
        client.classify("x")
    assert len(server.arrivals) == 1


def response_with(headers: dict, status: int = 429) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after(response_with({"Retry-After": "7"})) == 7
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < retry_after(response_with({"Retry-After": when})) <= 120
    assert retry_after(response_with({"Retry-After": "soon"})) is None
    assert retry_after(response_with({})) is None


def test_backoff_doubles_when_no_retry_after():
    policy = RetryPolicy(retries=3, backoff=0.5, max_wait=30)
    assert [policy.delay(response_with({}, 503), n) for n in range(4)] == [0.5, 1.0, 2.0, None]
    assert policy.delay(response_with({}, 500), 0) is None


class DroppingServer:
    """A raw HTTP/1.1 server whose first connection answers one request, keeps the connection alive,
    then reads the next request on it and closes it with a reset instead of answering, as a server
    does that drops an idle kept-alive connection just as the client reuses it. Later connections
    answer every request."""

    def __init__(self, answer: dict):
        import json
        import socket
        import threading
        self.body = json.dumps(answer).encode()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = []  # (connection number, request line)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        import socket
        import struct
        import threading
        number = 0
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            number += 1
            threading.Thread(target=self.handle, args=(connection, number, socket, struct), daemon=True).start()

    def handle(self, connection, number, socket, struct):
        stream = connection.makefile("rb")
        served = 0
        while True:
            line = stream.readline()
            if not line:
                return connection.close()
            length = 0
            while (header := stream.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            stream.read(length)
            self.requests.append((number, line.decode().strip()))
            if number == 1 and served == 1:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return connection.close()  # a reset, no answer
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                               + str(len(self.body)).encode() + b"\r\n\r\n" + self.body)
            served += 1

    def close(self):
        self.listener.close()


def test_an_idempotent_call_on_a_dropped_kept_alive_connection_is_sent_again_on_a_new_one():
    server = DroppingServer(CLASSIFIED)
    try:
        with Client(server.url, retries=0) as client:
            assert client.classify("first").labels == ["POSITIVE"]
            assert client.classify("second").labels == ["POSITIVE"]   # dropped on connection 1, then sent on 2
        assert [number for number, _ in server.requests] == [1, 1, 2]
    finally:
        server.close()


def test_a_call_that_is_not_idempotent_is_not_sent_again_when_its_connection_drops():
    server = DroppingServer({"model": "m", "text": "x", "seed": 1})
    try:
        with Client(server.url, retries=0) as client:
            assert client.generate("Once", temperature=0.8).text == "x"
            with pytest.raises(errors.ConnectionFailed, match="Connection aborted"):
                client.generate("Once", temperature=0.8)   # sampled without a seed: it might have run
        assert [number for number, _ in server.requests] == [1, 1]
    finally:
        server.close()
