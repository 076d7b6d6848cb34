"""When and how long to wait before retrying: 429 and 503 only, Retry-After first, else backoff."""
import email.utils
import time

RETRY_STATUSES = frozenset({429, 503})


def retry_after(response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryPolicy:
    """Up to `retries` more tries, waiting Retry-After or backoff * 2**attempt, never above max_wait.

    A Retry-After longer than max_wait is not slept through: the error is raised so the caller
    decides, rather than a test run hanging for minutes.
    """

    def __init__(self, retries: int = 3, backoff: float = 0.5, max_wait: float = 30.0):
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait

    def delay(self, response, attempt: int) -> float | None:
        """Seconds to wait before the next try, or None when this answer must not be retried."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
            return None
        wait = retry_after(response)
        if wait is None:
            wait = self.backoff * 2 ** attempt
        return wait if wait <= self.max_wait else None
