"""A cache of the target's replies, on disk, for re-running a suite without calling the chatbot again
(`aiqa run --cache`): iterating on a suite's checks and thresholds, or a CI job that re-runs an
unchanged suite against an unchanged target.

A reply is kept under a key made of the target (its type, address and everything that shapes the
request but secrets: header values are left out), the message, the system prompt and the repeat
index: the n-th identical request of a run is a key of its own, so `repeats: 3` stays three calls to
the chatbot the first time, and three stored replies the next, never one reply copied three times.
Errors are never kept (a target that failed is asked again). Entries older than the TTL are asked
again and replaced. It is off by default: a regression suite run against a new build of the same
chatbot at the same address must call it.
"""
import hashlib
import json
import os
import time
from collections import Counter
from pathlib import Path

DEFAULT_TTL_S = 7 * 24 * 3600


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "aiqa", "replies")


def target_identity(target) -> dict:
    """What identifies a target's answers: its type and address, and its request settings (header
    names without their values, which are often credentials)."""
    identity = {"type": target.kind, "url": target.url}
    for name in ("body", "reply_path", "model", "options"):
        if hasattr(target, name):
            identity[name] = getattr(target, name)
    if hasattr(target, "headers"):
        identity["headers"] = sorted(target.headers)
    return identity


class ReplyCache:
    def __init__(self, directory: str, ttl_s: float, target):
        self.directory, self.ttl_s = Path(directory), ttl_s
        self.identity = json.dumps(target_identity(target), sort_keys=True, default=str)
        self.seen = Counter()
        self.hits = self.misses = 0

    def key(self, message: str, system: str | None) -> str:
        """The next key for this request: its occurrence in the run is part of it."""
        request = json.dumps([self.identity, message, system or ""])
        index = self.seen[request]
        self.seen[request] += 1
        return hashlib.sha256(f"{request}#{index}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("reply"), str) or \
                time.time() - float(entry.get("stored_at", 0)) > self.ttl_s:
            self.misses += 1
            return None
        self.hits += 1
        return entry["reply"]

    def put(self, key: str, reply: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps({"reply": reply, "stored_at": time.time()}), encoding="utf-8")
        os.replace(partial, path)
