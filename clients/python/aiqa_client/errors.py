"""One error root, AiqaError, carrying the HTTP response; leaves mapped from the problem+json `type`.

Leaves also inherit the matching builtin (ValueError, LookupError, TimeoutError, ConnectionError)
so callers can catch them naturally. Each docstring says whether a retry can help.
"""
import requests

TYPE_PREFIX = "urn:aiqa:problem:"


class AiqaError(Exception):
    """Root of every error the client raises. `response` is the HTTP answer, None when there was none."""

    def __init__(self, message: str, *, response: requests.Response | None = None, problem: dict | None = None):
        super().__init__(message)
        self.response = response
        self.problem = problem or {}

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    @property
    def type(self) -> str | None:
        return self.problem.get("type")

    @property
    def detail(self) -> str | None:
        return self.problem.get("detail")

    @property
    def errors(self) -> dict:
        """Field -> messages, for validation errors."""
        return self.problem.get("errors") or {}


class JobFailed(AiqaError, RuntimeError):
    """An image job ended failed (`job.error` says why) instead of succeeding. Submitting it again
    helps only when the error was passing (e.g. the worker restarted)."""

    def __init__(self, job):
        super().__init__(f"image job {job.id} {job.state}" + (f": {job.error}" if job.error else ""))
        self.job = job


class JobCancelled(JobFailed):
    """An image job was cancelled (DELETE) before it succeeded."""


class ConnectionFailed(AiqaError, ConnectionError):
    """The service could not be reached (refused, DNS, reset). Nothing was answered."""


class RequestTimedOut(AiqaError, TimeoutError):
    """No answer within the client's timeout. The work may still be running on the server."""


class APIError(AiqaError):
    """The service answered with an error status."""


class ServerError(APIError):
    """A 5xx the service could not explain. A retry may help; report it if it persists."""


class MalformedRequest(APIError, ValueError):
    """400: the body was not valid JSON. Fix the request; do not retry."""


class Unauthorized(APIError, PermissionError):
    """401: no API key, or a wrong one."""


class NotFound(APIError, LookupError):
    """404: the route, model, metric or job does not exist."""


class ModelNotFound(NotFound):
    """404: no model of that name is configured."""


class JobNotFound(NotFound):
    """404: no image job with that id (never made, or its result expired)."""


class RunNotFound(NotFound):
    """404: no run with that id (never recorded, deleted, or past the retention), or no baseline run."""


class EvaluationNotFound(NotFound):
    """404: no recorded evaluation with that id."""


class NotAcceptable(APIError):
    """406: the Accept header asks for a form this answer cannot take (e.g. one PNG of several)."""


class Conflict(APIError):
    """409: the resource is not in a state that allows this yet."""


class RunConflict(Conflict):
    """409: the run id (or Idempotency-Key) was used before for another body. Use a new id; do not retry."""


class JobNotFinished(Conflict):
    """409: the image job has no result yet. Poll its state and retry when it succeeded."""


class MethodNotAllowed(APIError):
    """405: the route exists for another method."""


class PayloadTooLarge(APIError, ValueError):
    """413: the body or batch exceeds the service's limit. Split the request."""


class OverBudget(PayloadTooLarge):
    """413: the request's work is estimated over the time a request may take; nothing of it ran.
    Ask for less (fewer or shorter inputs, fewer labels or tokens). Retrying the same does not help."""

    @property
    def estimate_s(self) -> float | None:
        return self.problem.get("estimate_s")

    @property
    def limit_s(self) -> float | None:
        return self.problem.get("limit_s")


class UnsupportedMediaType(APIError, ValueError):
    """415: the body was not sent as application/json."""


class ValidationFailed(APIError, ValueError):
    """422: invalid fields; `errors` maps each field to its messages. Fix the request."""


class WrongTask(ValidationFailed):
    """422: the named model exists but cannot serve this endpoint."""


class Overloaded(APIError):
    """429: the service's queue is full. Safe to retry after `retry_after` seconds."""

    @property
    def retry_after(self) -> float | None:
        from .retry import retry_after
        return retry_after(self.response)


class RateLimited(Overloaded):
    """429: this API key (or address) is over its rate limit. Safe to retry after Retry-After."""


class ServiceUnavailable(APIError):
    """503: the service or the model is not ready. Retry after Retry-After if it is loading."""


class ModelUnavailable(ServiceUnavailable):
    """503: the model is loading or failed to load."""


class StoreUnavailable(ServiceUnavailable):
    """503: the service's store (its database) cannot be reached; scoring goes on. Retrying a run
    with an id or Idempotency-Key is safe."""


class NotReady(ServiceUnavailable):
    """503: not every configured model is loaded yet."""


class Timeout(APIError, TimeoutError):
    """504: the service dropped the work after its own time limit. A retry may help."""


BY_SLUG = {
    "malformed-request": MalformedRequest, "unauthorized": Unauthorized, "not-found": NotFound,
    "model-not-found": ModelNotFound, "method-not-allowed": MethodNotAllowed,
    "payload-too-large": PayloadTooLarge, "over-budget": OverBudget, "unsupported-media-type": UnsupportedMediaType,
    "validation-error": ValidationFailed, "wrong-task": WrongTask, "overloaded": Overloaded,
    "model-unavailable": ModelUnavailable, "not-ready": NotReady, "timeout": Timeout,
    "internal-error": ServerError, "job-not-found": JobNotFound, "not-acceptable": NotAcceptable,
    "job-not-finished": JobNotFinished, "rate-limited": RateLimited, "run-not-found": RunNotFound,
    "conflict": RunConflict, "store-unavailable": StoreUnavailable, "evaluation-not-found": EvaluationNotFound,
}
BY_STATUS = {
    400: MalformedRequest, 401: Unauthorized, 404: NotFound, 405: MethodNotAllowed, 406: NotAcceptable,
    409: Conflict, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 422: ValidationFailed, 429: Overloaded, 503: ServiceUnavailable, 504: Timeout,
}


def _problem(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_class(problem: dict, status: int) -> type[APIError]:
    """The leaf for a problem's `type` slug; by status when the slug is unknown (a newer server)."""
    kind = problem.get("type") or ""
    if kind.startswith(TYPE_PREFIX) and kind[len(TYPE_PREFIX):] in BY_SLUG:
        return BY_SLUG[kind[len(TYPE_PREFIX):]]
    if status in BY_STATUS:
        return BY_STATUS[status]
    return ServerError if status >= 500 else APIError


def from_response(response: requests.Response) -> APIError:
    """The exception for an error answer, its message the problem's title and detail."""
    problem = _problem(response)
    title = problem.get("title") or response.reason or "HTTP error"
    detail = problem.get("detail") or response.text[:500]
    message = f"{response.status_code} {title}: {detail} ({response.request.method} {response.url})"
    return error_class(problem, response.status_code)(message, response=response, problem=problem)
