"""One error root, APIError, that knows its HTTP status and renders application/problem+json.

Leaves also inherit the matching builtin (LookupError, ValueError, TimeoutError) so code below the
views can raise them naturally. Each docstring says whether a retry can help.
"""
import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from . import contract

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:aiqa:problem:"
log = logging.getLogger(__name__)


class APIError(Exception):
    """Root of every error the API answers with. Not retryable unless a leaf says so."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str, *, errors: dict | None = None, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.slug

    def to_dict(self) -> dict:
        body = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class MalformedRequest(APIError, ValueError):
    """The body is not valid JSON (or not the declared format). Fix the request; do not retry."""
    status, slug, title = 400, "malformed-request", "Malformed request"


class Unauthorized(APIError):
    """No API key, or a wrong one."""
    status, slug, title = 401, "unauthorized", "Unauthorized"


class NotFound(APIError, LookupError):
    """The named resource (model, metric, job, route) does not exist."""
    status, slug, title = 404, "not-found", "Not found"


class ModelNotFound(NotFound):
    slug, title = "model-not-found", "Unknown model"


class RunNotFound(NotFound):
    slug, title = "run-not-found", "Unknown run"


class EvaluationNotFound(NotFound):
    slug, title = "evaluation-not-found", "Unknown evaluation"


class MethodNotAllowed(APIError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(APIError, ValueError):
    """The id (or Idempotency-Key) was used before for other content. Choose a new one; do not retry."""
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(APIError, ValueError):
    """The body or the batch exceeds a configured limit. Split the request."""
    status, slug, title = 413, "payload-too-large", "Payload too large"


class OverBudget(PayloadTooLarge):
    """The request's work is estimated to take longer than a request may (service.admission); it was
    refused before any of it ran. Ask for less (fewer or shorter inputs, fewer labels, tokens, steps)."""
    slug, title = "over-budget", "Over budget"


class UnsupportedMediaType(APIError, ValueError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(APIError, ValueError):
    """Fields are missing or invalid; `errors` maps each field to its messages."""
    status, slug, title = 422, "validation-error", "Invalid request"


class WrongTask(ValidationFailed):
    """The named model exists but cannot serve this endpoint."""
    slug, title = "wrong-task", "Model cannot serve this task"


class Overloaded(APIError):
    """The queue is full. Safe to retry after Retry-After seconds."""
    status, slug, title = 429, "overloaded", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int = 1, **kwargs):
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **kwargs)


class ModelUnavailable(APIError):
    """The model is still loading or failed to load. Retry after Retry-After if it is loading."""
    status, slug, title = 503, "model-unavailable", "Model unavailable"


class StoreUnavailable(APIError):
    """The evaluation store (its database) cannot be reached. Safe to retry after Retry-After;
    scoring without `record` goes on meanwhile."""
    status, slug, title = 503, "store-unavailable", "Store unavailable"


class NotReady(APIError):
    status, slug, title = 503, "not-ready", "Not ready"


class Timeout(APIError, TimeoutError):
    """The work did not finish within the configured time and was dropped. Retry may help."""
    status, slug, title = 504, "timeout", "Timed out"


_HTTP_LEAVES = {
    400: MalformedRequest, 404: NotFound, 405: MethodNotAllowed,
    413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def problem_response(error: APIError):
    response = jsonify(error.to_dict())
    response.status_code = error.status
    response.mimetype = PROBLEM_JSON
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def handle_api_error(error: APIError):
    return problem_response(error)


def handle_http_exception(exc: HTTPException):
    """Render werkzeug's errors (unknown route, 405, body too large, 500) as problem+json."""
    if exc.code is not None and exc.code >= 500:
        original = getattr(exc, "original_exception", None)
        log.error("unhandled error", exc_info=original or exc)
        # No stack trace or model internals leave the process.
        return problem_response(APIError("The server failed to handle the request."))
    leaf = _HTTP_LEAVES.get(exc.code)
    if leaf is None:
        error = APIError(exc.description or exc.name)
        error.status, error.title = exc.code or 500, exc.name
    else:
        error = leaf(exc.description or exc.name)
    if exc.code == 405 and exc.response is None:
        response = problem_response(error)
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response
    return problem_response(error)


def input_problem(exc, listed_as: str | None = "inputs") -> APIError:
    """The problem for a model's InputError (service.contract), reported at the input's place in the
    request: 413 for input that does not fit the device, else 422. `listed_as`: the request's name
    for the list the model was given ("inputs"; "predictions" for a model-backed metric), None when
    the request gave one input as top-level fields (QA's question and context)."""
    field, message, hint = exc.field, str(exc), exc.hint
    if listed_as and listed_as != "inputs" and field == "inputs":
        field, message = listed_as, message.replace("inputs[", f"{listed_as}[")
    hint = [hint or message]
    if isinstance(exc, contract.OverBudget):  # the request as a whole
        return OverBudget(message, errors={listed_as if field == "inputs" and listed_as else field: hint},
                          estimate_s=round(exc.estimate_s, 3), limit_s=exc.limit_s, units=exc.units,
                          unit=exc.unit)
    if exc.each:
        errors = {listed_as or field: {index: [text] for index, text in exc.each.items()}}
    elif exc.index is None:
        errors = {field: hint}
    elif listed_as:
        errors = {listed_as: {exc.index: hint if field == listed_as else {field: hint}}}
    else:
        errors = {field: {exc.index: hint}}
    return (PayloadTooLarge if exc.too_large else ValidationFailed)(message, errors=errors)


def handle_input_error(exc):
    return problem_response(input_problem(exc))


def handle_recursion_error(exc: RecursionError):
    """Input nested deeper than the code that walks it can go (the JSON encoder, a hash of the
    inputs): the request's fault, not the server's."""
    return problem_response(MalformedRequest("the request nests arrays or objects too deeply to be handled"))


def init_app(app) -> None:
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(contract.InputError, handle_input_error)
    app.register_error_handler(RecursionError, handle_recursion_error)
    app.register_error_handler(HTTPException, handle_http_exception)
