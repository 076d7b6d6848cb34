"""Client: one method per endpoint of the aiqa service, around a requests.Session.

    with Client("http://127.0.0.1:8000") as aiqa:
        aiqa.classify(["I love this"]).labels          # ['POSITIVE']

Errors raise subclasses of aiqa_client.errors.AiqaError, chosen by the problem+json `type`.
429 and 503 answers are retried (Retry-After first, else exponential backoff) for idempotent calls:
every scoring call is one (no state changes, the same request scores the same); generation is one
only when it is reproducible (greedy, or sampling with a seed).
"""
import time

import requests

from . import __version__
from .errors import ConnectionFailed, NotReady, RequestTimedOut, from_response
from .retry import RetryPolicy
from .types import (Classification, Comparison, Counterfactual, Entities, Fairness, Generation, Health, MetricInfo,
                    MetricResult, Models, Perplexity, QuestionAnswers, Readiness, Similarity)


def _confidence(value):
    return {} if value is True else (value or None)


def _body(**fields) -> dict:
    """The JSON body: the fields that were given (None means "use the server's default")."""
    return {key: value for key, value in fields.items() if value is not None}


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None, *,
                 timeout: float = 60.0, retries: int = 3, backoff: float = 0.5, max_wait: float = 30.0,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = RetryPolicy(retries, backoff, max_wait)
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"aiqa-client/{__version__}"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    # -- transport -------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, idempotent: bool = True, **kwargs) -> requests.Response:
        """Send a request (kwargs as for requests: json, data, params, headers); retry 429/503 when
        idempotent; raise the mapped AiqaError for an error answer."""
        attempt = 0
        while True:
            response = self._send(method, path, kwargs)
            if response.ok:
                return response
            delay = self.retry.delay(response, attempt) if idempotent else None
            if delay is None:
                raise from_response(response)
            time.sleep(delay)
            attempt += 1

    def _send(self, method: str, path: str, kwargs: dict) -> requests.Response:
        url = self.base_url + path
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing reached the service
            raise ConnectionFailed(f"cannot reach {url}: {exc}") from exc
        except requests.Timeout as exc:
            raise RequestTimedOut(f"no answer from {url} within {self.timeout}s") from exc

    def _post(self, path: str, body: dict, *, idempotent: bool = True) -> dict:
        return self.request("POST", path, json=body, idempotent=idempotent).json()

    def _get(self, path: str) -> dict:
        return self.request("GET", path).json()

    # -- health and models -----------------------------------------------------------------------
    def livez(self) -> Health:
        """Whether the process is up."""
        return Health.from_json(self._get("/livez"))

    def readyz(self) -> Readiness:
        """Whether every model is loaded; a 503 is an answer here (ready=False), not an error."""
        try:
            body = self.request("GET", "/readyz", idempotent=False).json()
        except NotReady as exc:
            return Readiness(ready=False, missing=exc.problem.get("missing", {}))
        return Readiness.from_json({**body, "ready": True})

    def wait_until_ready(self, timeout: float = 300.0, interval: float = 1.0) -> Readiness:
        """Poll /readyz until ready; TimeoutError naming what is still missing."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                readiness = self.readyz()
            except ConnectionFailed:
                readiness = Readiness(ready=False, missing={"service": "not reachable"})
            if readiness.ready:
                return readiness
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.base_url} not ready after {timeout}s: {readiness.missing}")
            time.sleep(interval)

    def models(self) -> Models:
        """The configured models with task, source, revision, device, dtype and state."""
        return Models.from_json(self._get("/v1/models"))

    def prometheus(self) -> str:
        """The Prometheus exposition text of /metrics."""
        return self.request("GET", "/metrics").text

    # -- models at work --------------------------------------------------------------------------
    def classify(self, inputs, *, model=None, candidate_labels=None, hypothesis_template=None,
                 top_k=None) -> Classification:
        """Labels for each input, best first; candidate_labels make a causal LM classify zero-shot."""
        return Classification.from_json(self._post("/v1/classify", _body(
            inputs=inputs, model=model, candidate_labels=candidate_labels,
            hypothesis_template=hypothesis_template, top_k=top_k)))

    def perplexity(self, inputs, *, model=None, max_length=None, stride=None) -> Perplexity:
        """Perplexity of each input under a causal LM, with strided windows for long texts."""
        return Perplexity.from_json(self._post("/v1/perplexity", _body(
            inputs=inputs, model=model, max_length=max_length, stride=stride)))

    def generate(self, prompt: str | None = None, *, messages: list | None = None, model=None,
                 max_new_tokens=None, temperature=None, top_p=None, seed=None) -> Generation:
        """Continue a prompt, or answer a chat given as [{"role", "content"}, ...]."""
        reproducible = not temperature or seed is not None
        return Generation.from_json(self._post("/v1/generate", _body(
            prompt=prompt, messages=messages, model=model, max_new_tokens=max_new_tokens,
            temperature=temperature, top_p=top_p, seed=seed), idempotent=reproducible))

    def similarity(self, pairs, *, model=None) -> Similarity:
        """Cosine similarity of the embeddings of each [text, text] pair."""
        return Similarity.from_json(self._post("/v1/similarity", _body(pairs=pairs, model=model)))

    def qa(self, question=None, context=None, *, inputs=None, model=None, top_k=None, max_answer_len=None,
           handle_impossible_answer=None) -> QuestionAnswers:
        """Answer questions with spans of their contexts: question and context (strings, or lists
        paired in order, or many questions on one context), or inputs=[{"question", "context"}, ...]."""
        return QuestionAnswers.from_json(self._post("/v1/qa", _body(
            question=question, context=context, inputs=inputs, model=model, top_k=top_k,
            max_answer_len=max_answer_len, handle_impossible_answer=handle_impossible_answer)))

    def ner(self, inputs, *, model=None, aggregation=None, word_labels=None) -> Entities:
        """Named entities in each input; word_labels=True adds every word's BIO tag (for seqeval)."""
        return Entities.from_json(self._post("/v1/ner", _body(
            inputs=inputs, model=model, aggregation=aggregation, word_labels=word_labels)))

    # -- metrics on predictions made elsewhere ---------------------------------------------------
    def list_metrics(self) -> list[MetricInfo]:
        """Every metric the service computes, with its inputs and parameters."""
        return [MetricInfo.from_json(m) for m in self._get("/v1/metrics")["metrics"]]

    def describe_metric(self, name: str) -> MetricInfo:
        return MetricInfo.from_json(self._get(f"/v1/metrics/{name}"))

    def metric(self, name: str, predictions, references=None, *, params=None, confidence=None) -> MetricResult:
        """One metric, e.g. metric("f1", [0, 1, 1], [0, 1, 0]); confidence=True (or {level, resamples,
        seed}) adds bootstrap intervals."""
        return MetricResult.from_json(self._post(f"/v1/metrics/{name}", _body(
            predictions=predictions, references=references, params=params, confidence=_confidence(confidence))))

    def metric_table(self, name: str, table: str | bytes, **query) -> MetricResult:
        """A metric on a text/csv table (seqeval: token, reference and prediction columns)."""
        data = table.encode() if isinstance(table, str) else table
        response = self.request("POST", f"/v1/metrics/{name}", data=data, params=query,
                                headers={"Content-Type": "text/csv"})
        return MetricResult.from_json(response.json())

    def metrics(self, names: list, predictions, references=None, *, confidence=None) -> list[MetricResult]:
        """Several metrics on the same predictions in one call; each a name or {"name", "params"}."""
        body = self._post("/v1/metrics", _body(metrics=names, predictions=predictions, references=references,
                                               confidence=_confidence(confidence)))
        return [MetricResult.from_json(r) for r in body["results"]]

    def compare(self, metric: str, predictions_a, predictions_b, references=None, *, params=None, key=None,
                level=None, resamples=None, seed=None) -> Comparison:
        """Two systems on the same references: the metric for each, b - a, and a paired bootstrap test."""
        return Comparison.from_json(self._post("/v1/metrics/compare", _body(
            metric=metric, predictions_a=predictions_a, predictions_b=predictions_b, references=references,
            params=params, key=key, level=level, resamples=resamples, seed=seed)))

    def fairness(self, predictions, references, groups, *, metric=None, params=None, pos_label=None) -> Fairness:
        """A label metric per group (groups[i] names item i's group) and the gaps between groups."""
        return Fairness.from_json(self._post("/v1/metrics/fairness", _body(
            predictions=predictions, references=references, groups=groups, metric=metric, params=params,
            pos_label=pos_label)))

    # -- bias ------------------------------------------------------------------------------------
    def counterfactual(self, inputs, *, swaps="gender", model=None, label=None, candidate_labels=None,
                       hypothesis_template=None, permutations=None, seed=None) -> Counterfactual:
        """Swap group terms in each input; flip rate, score changes and a permutation-test p-value."""
        return Counterfactual.from_json(self._post("/v1/bias/counterfactual", _body(
            inputs=inputs, swaps=swaps, model=model, label=label, candidate_labels=candidate_labels,
            hypothesis_template=hypothesis_template, permutations=permutations, seed=seed)))
