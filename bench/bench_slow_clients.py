"""Slow clients: the latency of /v1/classify and /livez while 200 connections trickle their requests,
against the same with none, side by side in one run (service/serving.py).

One gunicorn worker (gunicorn.conf.py, as `make run` starts it) with the tiny classifier. Rounds are
interleaved (quiet then slow, then slow then quiet, ...); in a slow round 200 connections are open,
half sending their headers and half their body a byte every 0.2 s (with AIQA_READ_TIMEOUT_S long
enough that none is cut off during the round). Each figure is the median of the rounds' p50, with
the spread (min-max of the rounds) beside it. Target: classify p50 slow / quiet <= 1.2.

    .venv/bin/python bench/bench_slow_clients.py [--rounds 7] [--requests 40] [--slow 200]
"""
import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_records import Caller, interleaved, summary  # noqa: E402


class SlowConnections:
    """`count` connections that send a request a byte every `pause` seconds until closed."""

    def __init__(self, port: int, count: int, pause: float = 0.2):
        body = json.dumps({"model": "tiny-classifier", "inputs": ["slow"] * 50}).encode()
        head = (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        self.sockets, self.stop = [], threading.Event()
        for number in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(head if number % 2 == 0 else head[:1])
            self.sockets.append((sock, body if number % 2 == 0 else head[1:] + body))
        self.pause = pause
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        position = 0
        while not self.stop.wait(self.pause):
            for sock, rest in self.sockets:
                if position < len(rest):
                    try:
                        sock.sendall(rest[position:position + 1])
                    except OSError:
                        pass
            position += 1

    def close(self):
        self.stop.set()
        self.thread.join()
        for sock, _ in self.sockets:
            sock.close()


def p50(caller: Caller, method: str, path: str, body: bytes | None, count: int) -> float:
    return statistics.median(caller.call(method, path, body) for _ in range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40, help="classify and /livez requests per round and side")
    parser.add_argument("--slow", type=int, default=200, help="slow connections in a slow round")
    args = parser.parse_args()
    from aiqa_fixtures import tiny_model_builder, tiny_server
    tiny = tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"))
    classify = json.dumps({"model": "tiny-classifier", "inputs": ["a fine answer", "an awful one"]}).encode()
    with tempfile.TemporaryDirectory(prefix="aiqa-bench-slow-") as name:
        server = tiny_server(Path(name), tiny, workers=1, AIQA_READ_TIMEOUT_S="600", AIQA_LOG_LEVEL="WARNING")
        server.start()
        try:
            caller = Caller(server.port)
            livez = {"quiet": [], "slow": []}

            def side(kind: str):
                def one_round():
                    slow = SlowConnections(server.port, args.slow) if kind == "slow" else None
                    try:
                        time.sleep(0.5 if slow else 0)
                        livez[kind].append(p50(caller, "GET", "/livez", None, args.requests))
                        return p50(caller, "POST", "/v1/classify", classify, args.requests)
                    finally:
                        if slow:
                            slow.close()
                return one_round

            side("quiet")()  # warm up
            timings = interleaved(args.rounds, {"quiet": side("quiet"), "slow": side("slow")})
        finally:
            server.stop()
    print(f"== /v1/classify p50, one worker, {args.rounds} rounds x {args.requests} requests ==")
    print(f"  no slow connections      {summary(timings['quiet'])}")
    print(f"  {args.slow} slow connections     {summary(timings['slow'])}")
    ratio = statistics.median(timings["slow"]) / statistics.median(timings["quiet"])
    print(f"  slow / quiet             {ratio:8.2f}   (target <= 1.2)")
    print("== /livez p50 ==")
    print(f"  no slow connections      {summary(livez['quiet'])}")
    print(f"  {args.slow} slow connections     {summary(livez['slow'])}")


if __name__ == "__main__":
    main()
