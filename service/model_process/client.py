"""The worker's side of the model process: a registry whose models forward calls over the socket.

RemoteRegistry answers like ModelRegistry (readiness, describe, get, defaults) from a snapshot of
the model process's registry, taken again while models load and on every readiness or
model listing (so a restarted model process is seen there; a call to it meanwhile gets its 503).
Each request thread keeps its own connection, so calls from one worker run side by side.
"""
import os
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client

from . import AUTHKEY_ENV, CALLS, SOCKET_ENV
from ..contract import ModelSpec
from ..errors import ModelUnavailable, Timeout
from ..registry import FAILED, READY, ModelLookup

UNREACHABLE = "model process"


class ModelProcessClient:
    def __init__(self, address: str, authkey: bytes, timeout_s: float):
        self.address, self.authkey = address, authkey
        self.timeout_s = timeout_s
        self._local = threading.local()

    @classmethod
    def from_environ(cls, timeout_s: float) -> "ModelProcessClient":
        missing = [name for name in (SOCKET_ENV, AUTHKEY_ENV) if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"AIQA_ENGINE=process needs {', '.join(missing)}: run the service with "
                               "gunicorn -c gunicorn.conf.py, which starts the model process and sets them")
        return cls(os.environ[SOCKET_ENV], os.environ[AUTHKEY_ENV].encode(), timeout_s)

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = Client(self.address, family="AF_UNIX", authkey=self.authkey)
            except (OSError, EOFError, AuthenticationError) as exc:  # EOF: it died mid-handshake
                raise ModelUnavailable(f"the model process is not reachable ({type(exc).__name__}); "
                                       "it may be starting; retry shortly", headers={"Retry-After": "5"}) from None
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def request(self, message: tuple, callbacks: dict | None = None, timeout: float | None = -1):
        """Send one message, run the callbacks the model process asks for, return its answer.
        timeout: seconds to wait for each message (-1: the client's; None: no limit).

        A connection kept from an earlier call that turns out dead (the model process it led to was
        restarted since) is replaced and the call sent once more: no model process ever received it,
        or the one that did is gone. A new connection that fails is a 503."""
        timeout = self.timeout_s if timeout == -1 else timeout
        attempts = 2 if getattr(self._local, "connection", None) is not None else 1  # a kept one may be stale
        for attempt in range(attempts):
            try:
                kind, rest = self._exchange(self._connection(), message, callbacks, timeout)
                break
            except (EOFError, OSError):
                self._drop()
                if attempt == attempts - 1:
                    raise ModelUnavailable("lost the connection to the model process (restarting?); retry "
                                           "shortly", headers={"Retry-After": "5"}) from None
        if kind == "late":
            self._drop()  # a late answer must not be read as the next call's
            raise Timeout(f"the model process did not answer within {timeout:g} s")
        if kind == "error":
            raise rest[0]
        return rest[0]

    @staticmethod
    def _exchange(connection, message: tuple, callbacks: dict | None, timeout: float | None):
        connection.send(message)
        while True:
            if timeout is not None and not connection.poll(timeout):
                return "late", []
            kind, *rest = connection.recv()
            if kind != "callback":
                return kind, rest
            key, args = rest
            try:
                callbacks[key](*args)
            except Exception as exc:
                connection.send(("raise", exc))
            else:
                connection.send(("ack",))


class RemoteModel:
    """A model in the model process: its ATTRIBUTES as copied, its CALLS forwarded."""

    def __init__(self, client: ModelProcessClient, attributes: dict, description: dict):
        vars(self).update(attributes)
        self._client = client
        self._description = description

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def describe(self) -> dict:
        return dict(self._description)

    def __getattr__(self, method: str):
        if method not in CALLS:
            raise AttributeError(method)

        def call(*args, **kwargs):
            callbacks = {key: value for key, value in kwargs.items() if callable(value)}
            plain = {key: value for key, value in kwargs.items() if key not in callbacks}
            # Calls with callbacks (image generation) report progress, each step within the timeout.
            return self._client.request(("call", self.name, method, args, plain, tuple(callbacks)), callbacks)
        return call


class _RemoteSlot:
    def __init__(self, entry: dict, client: ModelProcessClient):
        self.spec = ModelSpec(name=entry["name"], task=entry["task"], source=entry["source"], base=entry["base"])
        self.capabilities = entry["capabilities"]
        self.state, self.error = entry["state"], entry["error"]
        self._description = entry["describe"]
        self.model = RemoteModel(client, entry["attributes"], entry["describe"]) if entry["attributes"] else None

    def describe(self) -> dict:
        return dict(self._description)


class RemoteRegistry(ModelLookup):
    """A registry's answers, from the model process's registry: it loads nothing itself."""

    def __init__(self, client: ModelProcessClient):
        super().__init__()
        self.client = client
        self._snapshot: dict | None = None
        self._unreachable: str | None = None
        self._refresh_lock = threading.Lock()

    def init_app(self, app) -> None:
        self.config = app.config
        app.extensions["aiqa.registry"] = self

    def _refresh(self, force: bool = False) -> None:
        """Take a new snapshot unless every model has settled (ready or failed) in the last one."""
        snapshot = self._snapshot
        if not force and snapshot is not None and not snapshot["loading"]:
            return
        with self._refresh_lock:
            try:
                snapshot = self.client.request(("state",), timeout=10)
            except (ModelUnavailable, Timeout) as exc:
                self._snapshot, self._unreachable = None, exc.detail
                self.slots, self.defaults = {}, {}
                return
            self._snapshot, self._unreachable = snapshot, None
            self.slots = {entry["name"]: _RemoteSlot(entry, self.client) for entry in snapshot["slots"]}
            self.defaults = snapshot["defaults"]

    def readiness(self) -> tuple[bool, dict]:
        self._refresh(force=True)
        if self._unreachable:
            return False, {UNREACHABLE: self._unreachable}
        return super().readiness()

    def describe(self) -> list[dict]:
        self._refresh(force=True)
        return super().describe()

    def get(self, name: str | None, capability: str):
        self._refresh()
        if self._unreachable:
            raise ModelUnavailable(self._unreachable, headers={"Retry-After": "5"})
        return super().get(name, capability)

    def wait(self, timeout: float | None = None) -> bool:
        import time
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._refresh(force=True)
            if self._snapshot and all(slot.state in (READY, FAILED) for slot in self.slots.values()):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
