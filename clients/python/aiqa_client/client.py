"""Client: one method per endpoint of the aiqa service, around a requests.Session.

    with Client("http://127.0.0.1:8000") as aiqa:
        aiqa.classify(["I love this"]).labels          # ['POSITIVE']

Errors raise subclasses of aiqa_client.errors.AiqaError, chosen by the problem+json `type`.
429 and 503 answers are retried (Retry-After first, else exponential backoff) for idempotent calls:
every scoring call is one (no state changes, the same request scores the same); generation is one
only when it is reproducible (greedy, or sampling with a seed); images likewise only with a seed.
Submitting a job is never retried (a retry could queue it twice); reading or cancelling one is.
An idempotent call whose kept-alive connection the service closed as the request went out (it
closes idle ones after a few seconds) is sent once more at once, on a new connection.
"""
import time

import requests
import urllib3

from . import __version__
from .errors import ConnectionFailed, JobCancelled, JobFailed, NotReady, RequestTimedOut, from_response
from .retry import RetryPolicy
from .runs import Evaluations, Runs
from .types import (Classification, Comparison, Counterfactual, Entities, Fairness, Generation, Health, ImageJob,
                    Images, MetricInfo, MetricResult, Models, Perplexity, QuestionAnswers, Readiness, Similarity)

JSON, PNG = {"Accept": "application/json"}, {"Accept": "image/png"}


def _confidence(value):
    return {} if value is True else (value or None)


def _record(record):
    """record="name" or {"name": ..., "labels": {...}} -> the body's `record`."""
    return {"name": record} if isinstance(record, str) else record


def _body(**fields) -> dict:
    """The JSON body: the fields that were given (None means "use the server's default")."""
    return {key: value for key, value in fields.items() if value is not None}


def _dropped(exc: requests.ConnectionError) -> bool:
    """Whether a connection was open and then closed under the request ("Connection aborted": reset,
    or closed before an answer), as a kept-alive one is when the service drops it as the request is
    sent; not a failure to connect, which says the service is not there."""
    return isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ProtocolError)


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
        self.runs = Runs(self)  # record, list, read, delete and compare suite runs
        self.evaluations = Evaluations(self)  # the history of metric calls made with record=

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
            response = self._send(method, path, kwargs, idempotent)
            if response.ok:
                return response
            delay = self.retry.delay(response, attempt) if idempotent else None
            if delay is None:
                raise from_response(response)
            time.sleep(delay)
            attempt += 1

    def _send(self, method: str, path: str, kwargs: dict, idempotent: bool = False) -> requests.Response:
        url = self.base_url + path
        for last in (not idempotent, True):
            try:
                return self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing reached the service
                if not last and _dropped(exc):
                    continue  # the pool opens a new connection for the second try
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

    def metric(self, name: str, predictions=None, references=None, *, prediction_scores=None, params=None,
               confidence=None, record=None) -> MetricResult:
        """One metric, e.g. metric("f1", [0, 1, 1], [0, 1, 0]), or metric("roc_auc", references=[0, 1],
        prediction_scores=[0.2, 0.9]) for the metric that takes scores; confidence=True (or {level,
        resamples, seed}) adds bootstrap intervals; record="name" (or {name, labels}) keeps it in the
        service's history (`evaluation_id`, Client.evaluations)."""
        return MetricResult.from_json(self._post(f"/v1/metrics/{name}", _body(
            predictions=predictions, prediction_scores=prediction_scores, references=references, params=params,
            confidence=_confidence(confidence), record=_record(record))))

    def metric_table(self, name: str, table: str | bytes, **query) -> MetricResult:
        """A metric on a text/csv table (seqeval: token, reference and prediction columns)."""
        data = table.encode() if isinstance(table, str) else table
        response = self.request("POST", f"/v1/metrics/{name}", data=data, params=query,
                                headers={"Content-Type": "text/csv"})
        return MetricResult.from_json(response.json())

    def metrics(self, names: list, predictions=None, references=None, *, prediction_scores=None, confidence=None,
                record=None) -> list[MetricResult]:
        """Several metrics on the same items in one call; each a name or {"name", "params"} (roc_auc reads
        prediction_scores, the others predictions: a call may give both)."""
        body = self._post("/v1/metrics", _body(metrics=names, predictions=predictions,
                                               prediction_scores=prediction_scores, references=references,
                                               confidence=_confidence(confidence), record=_record(record)))
        return [MetricResult.from_json(r) for r in body["results"]]

    def compare(self, metric: str, predictions_a, predictions_b, references=None, *, params=None, key=None,
                level=None, resamples=None, seed=None, record=None) -> Comparison:
        """Two systems on the same references: the metric for each, b - a, and a paired bootstrap test."""
        return Comparison.from_json(self._post("/v1/metrics/compare", _body(
            metric=metric, predictions_a=predictions_a, predictions_b=predictions_b, references=references,
            params=params, key=key, level=level, resamples=resamples, seed=seed, record=_record(record))))

    def fairness(self, predictions, references, groups, *, metric=None, params=None, pos_label=None,
                 record=None) -> Fairness:
        """A label metric per group (groups[i] names item i's group) and the gaps between groups."""
        return Fairness.from_json(self._post("/v1/metrics/fairness", _body(
            predictions=predictions, references=references, groups=groups, metric=metric, params=params,
            pos_label=pos_label, record=_record(record))))

    # -- bias ------------------------------------------------------------------------------------
    def counterfactual(self, inputs, *, swaps="gender", model=None, label=None, candidate_labels=None,
                       hypothesis_template=None, permutations=None, seed=None) -> Counterfactual:
        """Swap group terms in each input; flip rate, score changes and a permutation-test p-value."""
        return Counterfactual.from_json(self._post("/v1/bias/counterfactual", _body(
            inputs=inputs, swaps=swaps, model=model, label=label, candidate_labels=candidate_labels,
            hypothesis_template=hypothesis_template, permutations=permutations, seed=seed)))

    # -- images ----------------------------------------------------------------------------------
    def images(self, prompt: str, *, model=None, negative_prompt=None, width=None, height=None, steps=None,
               guidance_scale=None, seed=None, num_images=None) -> Images:
        """Generate images now (the request lasts the whole generation: submit a job for slow ones)."""
        body = _body(prompt=prompt, model=model, negative_prompt=negative_prompt, width=width, height=height,
                     steps=steps, guidance_scale=guidance_scale, seed=seed, num_images=num_images)
        response = self.request("POST", "/v1/images", json=body, headers=JSON, idempotent=seed is not None)
        return Images.from_json(response.json())

    def image_png(self, prompt: str, *, model=None, negative_prompt=None, width=None, height=None, steps=None,
                  guidance_scale=None, seed=None) -> bytes:
        """One image as PNG bytes (the server's X-Seed header on the answer names its seed)."""
        body = _body(prompt=prompt, model=model, negative_prompt=negative_prompt, width=width, height=height,
                     steps=steps, guidance_scale=guidance_scale, seed=seed)
        return self.request("POST", "/v1/images", json=body, headers=PNG, idempotent=seed is not None).content

    def submit_image_job(self, prompt: str, *, model=None, negative_prompt=None, width=None, height=None,
                         steps=None, guidance_scale=None, seed=None, num_images=None) -> ImageJob:
        """Queue a generation (the body is checked at once); poll it with image_job or wait_for_image_job."""
        body = _body(prompt=prompt, model=model, negative_prompt=negative_prompt, width=width, height=height,
                     steps=steps, guidance_scale=guidance_scale, seed=seed, num_images=num_images)
        response = self.request("POST", "/v1/images/jobs", json=body, idempotent=False)
        return ImageJob.from_json({**response.json(), "location": response.headers.get("Location")})

    def image_job(self, job_id: str) -> ImageJob:
        """A job's state and progress; JobNotFound for an unknown or expired id."""
        return ImageJob.from_json(self._get(f"/v1/images/jobs/{job_id}"))

    def image_job_result(self, job_id: str) -> Images:
        """A succeeded job's images, as images() answers; JobNotFinished before it succeeded."""
        return Images.from_json(self.request("GET", f"/v1/images/jobs/{job_id}/result", headers=JSON).json())

    def image_job_png(self, job_id: str) -> bytes:
        """A succeeded one-image job's PNG; NotAcceptable when the job made several."""
        return self.request("GET", f"/v1/images/jobs/{job_id}/result", headers=PNG).content

    def cancel_image_job(self, job_id: str) -> None:
        """Cancel a queued or running job (a running one stops at its next step); remove a finished
        one with its result."""
        self.request("DELETE", f"/v1/images/jobs/{job_id}")

    def wait_for_image_job(self, job_id: str, timeout: float = 300.0, interval: float = 0.5) -> Images:
        """Poll the job until it succeeded and answer its images; JobFailed or JobCancelled when it
        ended otherwise, TimeoutError (the job keeps running) when it has not finished in time."""
        deadline = time.monotonic() + timeout
        while not (job := self.image_job(job_id)).finished:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"image job {job_id} still {job.state} after {timeout}s: {job.progress}")
            time.sleep(interval)
        if job.state != "succeeded":
            raise (JobCancelled if job.state == "cancelled" else JobFailed)(job)
        return self.image_job_result(job_id)
