"""The model process: loads the profile's models and answers the workers' calls.

One thread per worker connection; a call runs the model's own method, so calls from every worker
meet in the same batchers. Messages (pickled by multiprocessing.connection):
  worker -> ("state",)                                  -> ("ok", snapshot)
  worker -> ("call", model, method, args, kwargs, keys) -> ("ok", result) | ("error", exception)
The call's callbacks (keyword arguments named in keys, e.g. image progress) run in the worker:
  process -> ("callback", key, args); worker -> ("ack",) | ("raise", exception)
"""
import logging
import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Listener

from . import ATTRIBUTES, AUTHKEY_ENV, CALLS, SOCKET_ENV

log = logging.getLogger("aiqa.model_process")


def snapshot(registry) -> dict:
    """What workers need to know of the models without calling them."""
    slots = []
    for name, slot in registry.slots.items():
        model = slot.model
        slots.append({
            "name": name, "task": slot.spec.task, "source": slot.spec.source, "base": slot.spec.base,
            "capabilities": slot.capabilities, "state": slot.state, "error": slot.error, "describe": slot.describe(),
            "attributes": {key: getattr(model, key) for key in ATTRIBUTES if hasattr(model, key)} if model else {},
        })
    return {"pid": os.getpid(), "defaults": registry.defaults, "slots": slots,
            "loading": not registry.wait(0)}


def _sendable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a plain one that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class ModelProcessServer:
    def __init__(self, registry, address: str, authkey: bytes):
        self.registry = registry
        self.listener = Listener(address, family="AF_UNIX", authkey=authkey)

    def serve_forever(self) -> None:
        while True:
            try:
                connection = self.listener.accept()
            except OSError:  # closed: stopping
                return
            except Exception as exc:  # a client that failed the key handshake
                log.warning("refused a connection", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
                continue
            threading.Thread(target=self._serve, args=(connection,), name="aiqa-model-process-conn", daemon=True).start()

    def _serve(self, connection) -> None:
        with connection:
            while True:
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    return  # the worker went away
                try:
                    reply = ("ok", self._handle(connection, message))
                except Exception as exc:
                    reply = ("error", _sendable(exc))
                try:
                    connection.send(reply)
                except (EOFError, OSError):
                    return
                except Exception as exc:  # a result that cannot be pickled
                    connection.send(("error", _sendable(RuntimeError(f"unsendable result: {exc}"))))

    def _handle(self, connection, message):
        if message[0] == "state":
            return snapshot(self.registry)
        if message[0] != "call":
            raise ValueError(f"unknown message {message[0]!r}")
        _, name, method, args, kwargs, keys = message
        if method not in CALLS:
            raise AttributeError(f"{method!r} cannot be called in the model process")
        model = self.registry.ready(name)
        for key in keys:
            kwargs[key] = _callback(connection, key)
        return getattr(model, method)(*args, **kwargs)


def _callback(connection, key: str):
    """A stand-in that runs the worker's callback and raises what it raised (a job's cancel)."""
    def callback(*args):
        connection.send(("callback", key, args))
        answer = connection.recv()
        if answer[0] == "raise":
            raise answer[1]
    return callback


def _exit_with_parent(parent: int) -> None:
    """The model process ends when the gunicorn master that started it is gone."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _stop(*_) -> None:
    """SIGTERM/SIGINT (from the supervisor when the server stops): write the queued log lines, exit."""
    for handler in logging.getLogger().handlers:
        getattr(handler, "flush_pending", lambda: None)()
    os._exit(0)


def main() -> None:
    from ..config import read_config
    from ..observability import configure_logging
    from ..registry import ModelRegistry
    address, authkey = os.environ[SOCKET_ENV], os.environ[AUTHKEY_ENV].encode()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    if os.environ.get("AIQA_ENGINE_PARENT"):
        threading.Thread(target=_exit_with_parent, args=(int(os.environ["AIQA_ENGINE_PARENT"]),), daemon=True).start()
    # The registry alone: no Flask app, job store, evaluation store or metric modules here.
    config = read_config({"ENGINE": "inline", "STORE": False})
    configure_logging(config["LOG_LEVEL"])
    registry = ModelRegistry()
    registry.start(config)  # loads the models in the background
    if os.path.exists(address):
        os.remove(address)  # left by a predecessor that was killed
    server = ModelProcessServer(registry, address, authkey)
    log.info("model process listening", extra={"fields": {"pid": os.getpid()}})
    sys.stdout.flush()
    server.serve_forever()
