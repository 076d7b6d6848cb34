"""The gunicorn worker aiqa runs (gunicorn.conf.py): gthread, but a request takes a thread only once
it has fully arrived.

gunicorn's gthread worker hands a connection to a request thread as soon as its first bytes arrive,
and the thread then reads the rest. A client that sends its headers or body a byte at a time holds
that thread for as long as it likes: 16 such clients (a worker's threads) made the server deaf,
`/livez` included, so a handful of slow clients could get a pod restarted by its liveness probe.

BufferingWorker reads every request in the worker's event loop instead, without blocking: the
request line, the headers and a body of the announced Content-Length (or a chunked body up to its
last chunk). Only a complete request goes to a thread, with its bytes already in gunicorn's parser.
A request that has not fully arrived AIQA_READ_TIMEOUT_S seconds after its connection opened (on a
kept-alive connection: after the next request's first byte) is answered 408 (problem+json) and its
connection closed; a connection that sends nothing is closed after the same time. A worker holds at
most gunicorn's worker_connections (1,000) connections, slow ones included; past that, new ones
wait in the listen backlog. Requests for the probes (`/livez`, `/readyz`) go to threads of their own, so a probe
never waits for a request thread that a model call holds.

Standard library and gunicorn only: the gunicorn master imports this module.
"""
import errno
import json
import os
import re
import selectors
import socket
import time
from concurrent import futures
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

READ_TIMEOUT_ENV = "AIQA_READ_TIMEOUT_S"
DEFAULT_READ_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024  # past this without a blank line, the parser answers 400 at once
PROBES = (b"GET /livez ", b"GET /readyz ", b"HEAD /livez ", b"HEAD /readyz ")
PROBE_THREADS = 2
_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)
_EXPECT = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def read_timeout_s() -> float:
    return float(os.environ.get(READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT_S))


def request_complete(buffer: bytes | bytearray, max_body: int) -> bool:
    """Whether `buffer` holds a whole HTTP/1.x request (or enough for the parser to refuse it)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return len(buffer) > MAX_HEADER_BYTES
    head = bytes(buffer[:end + 2])
    body = len(buffer) - end - 4
    if _CHUNKED.search(head):
        return buffer.endswith(b"0\r\n\r\n") and (body == 5 or buffer.endswith(b"\r\n0\r\n\r\n")) or body > max_body
    found = _LENGTH.search(head)
    if found is None:
        return True  # no body
    length = int(found.group(1))
    return length > max_body or body >= length  # too large: the app answers 413 without reading it


def timeout_response(seconds: float) -> bytes:
    problem = json.dumps({"type": "urn:aiqa:problem:request-timeout", "title": "Request timeout", "status": 408,
                          "detail": f"the request did not arrive whole within {seconds:g} s"}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\n"
            b"Content-Length: " + str(len(problem)).encode() + b"\r\nConnection: close\r\n\r\n" + problem)


def largest_body() -> int:
    """The largest body any route accepts (a larger one is refused by the app without reading it)."""
    from .config import read_config
    config = read_config()
    return max(config["MAX_CONTENT_LENGTH"], config["MAX_METRIC_CONTENT_LENGTH"], config["MAX_RUN_CONTENT_LENGTH"])


class BufferedConn(TConn):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffer = bytearray()
        self.deadline = 0.0
        self.continued = False

    def answer_expect(self) -> None:
        """A client that sent `Expect: 100-continue` waits for this before its body: say it now, and
        take the header out, so gunicorn does not say it again."""
        end = self.buffer.find(b"\r\n\r\n")
        if self.continued or end < 0:
            return
        self.continued = True
        expect = _EXPECT.search(bytes(self.buffer[:end + 2]))
        if expect is not None:
            self.buffer[expect.start():expect.end()] = b""
            try:
                self.sock.send(CONTINUE)
            except OSError:
                pass

    def init(self):
        super().init()
        if self.buffer:  # the request read by the event loop, for gunicorn's parser
            self.parser.unreader.unread(bytes(self.buffer))
            self.buffer = bytearray()


class BufferingWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout_s()
        self.max_body = largest_body()
        self.reading: dict[BufferedConn, None] = {}  # connections whose request is still arriving
        self.probe_pool = None

    def init_process(self):
        self.probe_pool = futures.ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="aiqa-probe")
        super().init_process()

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = BufferedConn(self.cfg, client_sock, client_addr, listener.getsockname())
        client_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._start_reading(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection sends its next request: read it in the event loop too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_reading(conn)
        self._read(conn, client)

    def _start_reading(self, conn):
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.read_timeout
        self.reading[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read, conn))

    def _read(self, conn, client):
        while True:
            try:
                data = conn.sock.recv(256 * 1024)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""
            if not data:  # the client went away
                self._drop(conn)
                return
            conn.buffer += data
            conn.answer_expect()
            if request_complete(conn.buffer, self.max_body):
                self._stop_reading(conn)
                conn.data_ready = True
                probe = bytes(conn.buffer[:13]).startswith(PROBES)
                pool = self.probe_pool if probe else self.tpool
                future = pool.submit(self.handle, conn)
                future.add_done_callback(lambda done: self.method_queue.defer(self.finish_request, conn, done))
                return

    def _stop_reading(self, conn):
        self.reading.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, conn, answer: bytes = b""):
        self._stop_reading(conn)
        self.nr_conns -= 1
        if answer:
            try:
                conn.sock.send(answer)
            except OSError:
                pass
        conn.close()

    def murder_pending(self):
        """Also answer 408 to requests that did not arrive in time (called every turn of the loop)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [conn for conn in self.reading if conn.deadline <= now]:
            self._drop(conn, timeout_response(self.read_timeout) if conn.buffer else b"")

    def run(self):
        try:
            super().run()
        finally:
            for conn in list(self.reading):
                self._drop(conn)
            self.probe_pool.shutdown(wait=False)
