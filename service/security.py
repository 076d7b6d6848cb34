"""Optional API keys and a per-key rate limit, checked before every request whose path is not exempt.

Keys: AIQA_API_KEYS (comma-separated); clients send `Authorization: Bearer <key>`. With no keys
configured every request is let through. A presented key is compared with every configured key in
constant time (hmac.compare_digest of SHA-256 digests), so neither the answer nor its timing tells
how much of a key was right.

Rate limit: AIQA_RATE_LIMIT requests per second (0: off) with bursts of AIQA_RATE_LIMIT_BURST, a
token bucket per key (per client address when no keys are configured). Buckets live in each worker
process: with N gunicorn workers a key may get up to N times the rate, so set the rate per worker.

Pages (/ui, service/ui) take the key from an HTTP-only cookie set by their key form instead of the
header; a page asked for without a valid one redirects to that form.

AIQA_AUTH_EXEMPT lists the paths that need neither (a path matches itself and everything under it):
probes and scrapers cannot be made to send keys, and must never be throttled.
"""
import hashlib
import hmac
import math
import threading
import time

from flask import redirect, request, url_for

from .errors import Overloaded, Unauthorized

# Idle buckets are dropped past this many, so client addresses cannot grow memory without bound.
MAX_BUCKETS = 4096


class RateLimited(Overloaded):
    """Over the key's request rate. Safe to retry after Retry-After seconds."""
    slug, title = "rate-limited", "Rate limit exceeded"


def split_setting(value) -> list[str]:
    """A comma-separated string (as the environment gives it) or a list, as a list of non-empty items."""
    items = value.split(",") if isinstance(value, str) else (value or [])
    return [item.strip() for item in items if item and item.strip()]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class TokenBucket:
    """`rate` tokens per second up to `burst`; a request takes one."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), now

    def take(self, now: float) -> float:
        """Take a token; return 0 when one was there, else the seconds until one will be."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.rate >= self.burst


class Guard:
    """The keys, the exempt paths and this worker's buckets, bound to an app by init_app."""

    def __init__(self):
        self.keys: dict[bytes, str] = {}
        self.exempt: tuple[str, ...] = ()
        self.rate, self.burst = 0.0, 1
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()

    def init_app(self, app) -> None:
        config = app.config
        # A short id per key (a digest prefix) names the caller in logs without revealing the key.
        self.keys = {digest: digest.hex()[:12] for digest in map(_digest, split_setting(config["API_KEYS"]))}
        self.exempt = tuple(path.rstrip("/") for path in split_setting(config["AUTH_EXEMPT"]))
        self.rate = float(config["RATE_LIMIT"])
        self.burst = max(1, int(config["RATE_LIMIT_BURST"]))
        app.extensions["aiqa.security"] = self
        app.before_request(self.check)

    def is_exempt(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.exempt)

    def check(self):
        if self.is_exempt(request.path):
            return None
        from . import ui
        if ui.is_page(request.path):
            caller = f"addr:{request.remote_addr}"
            if self.keys and not ui.needs_no_key(request.path):
                key_id = self.key_id(request.cookies.get(ui.KEY_COOKIE, ""))
                if key_id is None:  # to the key form, and back here after it
                    following = request.full_path if request.query_string else request.path
                    return redirect(url_for("ui.key", next=following))
                caller = f"key:{key_id}"
        else:
            caller = self.authenticate() if self.keys else f"addr:{request.remote_addr}"
        if self.rate > 0:
            self.throttle(caller)
        return None

    def key_id(self, token: str) -> str | None:
        """The short id of the configured key `token` is, None when it is none of them."""
        presented, found = _digest(token.strip()), None
        for digest, key_id in self.keys.items():  # no early exit: every key is compared
            if hmac.compare_digest(presented, digest):
                found = key_id
        return found if token.strip() else None

    def authenticate(self) -> str:
        """The id of the presented key; 401 when it is missing or matches none."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send an API key as Authorization: Bearer <key>",
                               headers={"WWW-Authenticate": 'Bearer realm="aiqa"'})
        found = self.key_id(token)
        if found is None:
            raise Unauthorized("the API key is not valid",
                               headers={"WWW-Authenticate": 'Bearer realm="aiqa", error="invalid_token"'})
        return f"key:{found}"

    def throttle(self, caller: str) -> None:
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.get(caller)
            if bucket is None:
                self._prune(now)
                bucket = self.buckets[caller] = TokenBucket(self.rate, self.burst, now)
            wait = bucket.take(now)
        if wait:
            raise RateLimited(f"over {self.rate:g} requests per second for this caller; retry in {math.ceil(wait)} s",
                              retry_after=max(1, math.ceil(wait)))

    def _prune(self, now: float) -> None:
        if len(self.buckets) >= MAX_BUCKETS:
            self.buckets = {caller: b for caller, b in self.buckets.items() if not b.full(now)}


def init_app(app) -> None:
    Guard().init_app(app)
