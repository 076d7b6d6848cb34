"""The chatbot under test: any JSON-over-HTTP bot, an OpenAI-compatible chat endpoint, or aiqa's /v1/generate.

Every target answers `reply(message, system)` with the reply text. A target that cannot be reached
raises TargetUnreachable (the run stops, exit 2); one that answers with an error raises CaseError
(that case errors, the run goes on). 429/503 answers are retried after Retry-After.
"""
import os
import re
import time

import requests

from ..client import Client
from ..errors import APIError, ConnectionFailed, RequestTimedOut
from ..retry import RetryPolicy
from .base import CaseError, Spec, SuiteError

ENV_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


class TargetUnreachable(RuntimeError):
    """Nothing answered at the target's address (refused, DNS, connect timeout)."""


def expand_env(value: str, where: str) -> str:
    """Replace ${NAME} (or ${NAME:-default}) with the environment variable: tokens and addresses
    stay out of suite files."""
    def lookup(match):
        name, default = match.groups()
        if os.environ.get(name):
            return os.environ[name]
        if default is None:
            raise SuiteError(f"{where}: environment variable {name} is not set")
        return default
    return ENV_VAR.sub(lookup, value)


class Target:
    kind = ""
    seconds_per_call = 2.0            # for --dry-run estimates when the suite gives none
    supports_history = False          # whether chat() takes a whole conversation (multi-turn strategies)

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.retry = RetryPolicy(retries=3, backoff=1.0, max_wait=60.0)

    def reply(self, message: str, system: str | None = None) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (the aiqa target keeps a session)."""

    def post_json(self, url: str, body: dict, headers: dict) -> dict:
        attempt = 0
        while True:
            try:
                response = requests.post(url, json=body, headers=headers, timeout=self.timeout)
            except requests.ConnectionError as exc:
                raise TargetUnreachable(f"target {url} is unreachable: {exc}") from exc
            except requests.Timeout as exc:
                raise CaseError(f"target {url} did not answer within {self.timeout}s") from exc
            delay = self.retry.delay(response, attempt) if not response.ok else None
            if delay is None:
                return _json_answer(response)
            time.sleep(delay)
            attempt += 1


def _json_answer(response) -> dict:
    if not response.ok:
        raise CaseError(f"target answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError:
        raise CaseError(f"target answered non-JSON: {response.text[:300]!r}") from None


def dig(answer, path: str):
    """Follow a dotted path ("choices.0.message.content") through dicts and lists."""
    node = answer
    for part in path.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise CaseError(f"reply_path {path!r}: no {part!r} in the target's answer {str(answer)[:300]}")
    if not isinstance(node, (str, int, float)):
        raise CaseError(f"reply_path {path!r} leads to {type(node).__name__}, not text")
    return str(node)


def fill(template, message: str, system: str):
    """Put the message and system prompt into every string of a JSON body template."""
    if isinstance(template, str):
        return template.replace("{message}", message).replace("{system}", system)
    if isinstance(template, list):
        return [fill(item, message, system) for item in template]
    if isinstance(template, dict):
        return {key: fill(value, message, system) for key, value in template.items()}
    return template


class HttpTarget(Target):
    """Any chatbot that takes JSON over HTTP: a body template with {message} (and {system})."""
    kind = "http"

    def __init__(self, spec: Spec, url: str, timeout: float):
        super().__init__(url, timeout)
        headers = spec.get("headers", dict, {})
        self.headers = {k: expand_env(str(v), f"{spec.where}.headers.{k}") for k, v in headers.items()}
        self.body = spec.get("body", (dict, list), {"message": "{message}"})
        self.reply_path = spec.get("reply_path", str, required=True)
        text = str(self.body)
        if "{message}" not in text:
            raise SuiteError(f"{spec.where}.body: must contain {{message}} where the prompt goes")
        self.supports_system = "{system}" in text

    def reply(self, message: str, system: str | None = None) -> str:
        return dig(self.post_json(self.url, fill(self.body, message, system or ""), self.headers), self.reply_path)


class OpenAITarget(Target):
    """An OpenAI-compatible chat-completions endpoint; `url` is the base (…/v1)."""
    kind = "openai"
    supports_system = True

    def __init__(self, spec: Spec, url: str, timeout: float):
        super().__init__(url, timeout)
        self.model = spec.get("model", str, required=True)
        key_env = spec.get("api_key_env", str)
        if key_env and key_env not in os.environ:
            raise SuiteError(f"{spec.where}.api_key_env: environment variable {key_env} is not set")
        headers = spec.get("headers", dict, {})
        self.headers = {k: expand_env(str(v), f"{spec.where}.headers.{k}") for k, v in headers.items()}
        if key_env:
            self.headers["Authorization"] = f"Bearer {os.environ[key_env]}"
        self.options = {k: v for k, v in (("max_tokens", spec.get("max_tokens", int)),
                                          ("temperature", spec.get("temperature", float))) if v is not None}

    supports_history = True

    def reply(self, message: str, system: str | None = None) -> str:
        return self.chat(([{"role": "system", "content": system}] if system else [])
                         + [{"role": "user", "content": message}])

    def chat(self, messages: list[dict]) -> str:
        """The reply to the last of `messages`, a whole conversation (system, user, assistant, ...)."""
        answer = self.post_json(self.url.rstrip("/") + "/chat/completions",
                                {"model": self.model, "messages": messages, **self.options}, self.headers)
        return dig(answer, "choices.0.message.content")


class AiqaTarget(Target):
    """aiqa's own /v1/generate: a chat through the model's template, greedy unless told otherwise."""
    kind = "aiqa"
    supports_system = True

    def __init__(self, spec: Spec, url: str, timeout: float):
        super().__init__(url, timeout)
        self.options = {"model": spec.get("model", str), "max_new_tokens": spec.positive("max_new_tokens", 64),
                        "temperature": spec.get("temperature", float), "seed": spec.get("seed", int)}
        api_key_env = spec.get("api_key_env", str)
        self.client = Client(url, api_key=os.environ.get(api_key_env) if api_key_env else None, timeout=timeout)
        # CPU generation costs about 0.05 s per token on two cores: the estimate assumes every reply is full.
        self.seconds_per_call = 0.3 + 0.05 * self.options["max_new_tokens"]

    supports_history = True

    def reply(self, message: str, system: str | None = None) -> str:
        return self.chat(([{"role": "system", "content": system}] if system else [])
                         + [{"role": "user", "content": message}])

    def chat(self, messages: list[dict]) -> str:
        """The reply to the last of `messages`, a whole conversation (system, user, assistant, ...)."""
        try:
            return self.client.generate(messages=messages, **self.options).text
        except ConnectionFailed as exc:
            raise TargetUnreachable(f"target {self.url} is unreachable: {exc}") from exc
        except (APIError, RequestTimedOut) as exc:
            raise CaseError(f"target {self.url}: {exc}") from exc

    def close(self) -> None:
        self.client.close()


KINDS = {cls.kind: cls for cls in (HttpTarget, OpenAITarget, AiqaTarget)}


def build_target(spec: Spec) -> Target:
    kind = spec.get("type", str, required=True)
    if kind not in KINDS:
        raise SuiteError(f"{spec.where}.type: unknown target type {kind!r}; known: {', '.join(KINDS)}")
    url = expand_env(spec.get("url", str, required=True), f"{spec.where}.url")
    target = KINDS[kind](spec, url, spec.get("timeout", float, 120.0))
    target.system = spec.get("system", str, "")
    target.seconds_per_call = spec.get("seconds_per_call", float, target.seconds_per_call)
    spec.done()
    return target
