"""Prometheus metrics (module-level, base units) and structured JSON request logs.

Under gunicorn PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py) before this module is imported,
so every worker writes its own files and /metrics sums them.
"""
import atexit
import contextlib
import datetime
import json
import logging
import logging.handlers
import os
import queue
import re
import threading
import time
import uuid

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess,
)
from prometheus_client import REGISTRY

bp = Blueprint("observability", __name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter("aiqa_requests_total", "HTTP requests answered.", ["endpoint", "code"])
REQUEST_DURATION = Histogram(
    "aiqa_request_duration_seconds", "Time to answer an HTTP request.", ["endpoint"], buckets=LATENCY_BUCKETS)
INFERENCE_DURATION = Histogram(
    "aiqa_inference_duration_seconds", "Time of one model forward (one batch).", ["model"], buckets=LATENCY_BUCKETS)
QUEUE_DURATION = Histogram(
    "aiqa_queue_duration_seconds", "Time a request waited before its batch ran.", ["model"], buckets=LATENCY_BUCKETS)
BATCH_SIZE = Histogram(
    "aiqa_batch_size", "Items in one forward pass.", ["model"], buckets=(1, 2, 4, 8, 16, 32, 64, 128))
QUEUE_DEPTH = Gauge("aiqa_queue_depth", "Items waiting for a model.", ["model"], multiprocess_mode="livesum")
MODEL_LOADED = Gauge(
    "aiqa_model_loaded", "1 when the model is loaded and warmed.", ["model", "device"], multiprocess_mode="livemax")
METRIC_COMPUTATIONS = Counter("aiqa_metric_computations_total", "Metric computations.", ["metric"])

log = logging.getLogger("aiqa.access")
MAX_LOGGED_BODY = 2000


class JSONFormatter(logging.Formatter):
    """One JSON object per line; extra fields passed with `extra={"fields": {...}}`."""

    def format(self, record):
        entry = {
            "ts": round(record.created, 3), "level": record.levelname, "logger": record.name, "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _HandOff(logging.handlers.QueueHandler):
    """Puts records on a queue for one writer thread, which formats and writes them.

    A request thread then never waits on the stream's lock or the write itself: with a dozen
    request threads and one access-log line each, those waits cost more CPU than the request
    (bench: about 0.7 ms a request on a 2-core machine). The writer is started in the process that
    logs, so a fork (gunicorn workers) starts its own.
    """

    def __init__(self, target: logging.Handler):
        super().__init__(queue.SimpleQueue())
        self.target = target
        self._pid = None
        self._listener = None
        self._starting = threading.Lock()
        atexit.register(self.flush_pending)

    def prepare(self, record):
        return record  # formatted by the writer; records are not shared across processes

    def emit(self, record):
        if self._pid != os.getpid():
            self._start()
        super().emit(record)

    def _start(self):
        with self._starting:
            if self._pid == os.getpid():
                return
            self._listener = logging.handlers.QueueListener(self.queue, self.target)
            self._listener.start()
            self._pid = os.getpid()

    def flush_pending(self):
        """Write what is queued and stop the writer (at exit; a later record starts it again)."""
        if self._listener is not None and self._pid == os.getpid():
            self._listener.stop()
            self._listener, self._pid = None, None
        with contextlib.suppress(OSError, ValueError):  # the stream may be closed already at exit
            self.target.flush()


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _HandOff) for h in root.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(JSONFormatter())
        root.addHandler(_HandOff(stream))
    root.setLevel(level)
    # Alembic logs a line per plugin and per migration step on every start; its warnings still show.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


_CONVERTER = re.compile(r"<[a-z_]+:(\w+)>")


def _endpoint_label() -> str:
    """The route as written, its variables without their converters (/v1/metrics/<name>): a label that
    stays the same when a route's converter changes."""
    rule = request.url_rule
    return _CONVERTER.sub(r"<\1>", rule.rule) if rule is not None else "unmatched"


def _start_request():
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    # Echo a caller's id only when it is short and printable, so logs cannot be forged.
    g.request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex


def _finish_request(response):
    endpoint = _endpoint_label()
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    REQUESTS.labels(endpoint, str(response.status_code)).inc()
    REQUEST_DURATION.labels(endpoint).observe(elapsed)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    fields = {
        "request_id": g.get("request_id"), "method": request.method, "path": request.path,
        "endpoint": endpoint, "status": response.status_code, "duration_s": round(elapsed, 4),
    }
    if current_app.config["LOG_REQUEST_TEXTS"] and request.is_json:
        # Off by default: request texts can hold personal data.
        fields["body"] = request.get_data(as_text=True)[:MAX_LOGGED_BODY]
    log.info("request", extra={"fields": fields})
    return response


class QualitySeries:
    """The quality series, read from the store at scrape time so every worker and every replica
    reports the same numbers: the newest run's pass rate and case counts per suite and target, and
    the newest value of each recorded evaluation's numbers; at most QUALITY_SERIES_LIMIT suites and
    as many evaluations. `aiqa_store_up` is 0, and no quality series is shown, when the store did not
    answer within QUALITY_TIMEOUT_S: a scrape never fails or hangs on the database.

    The text is written here rather than by prometheus_client's generate_latest, which takes about
    6 us a sample: a thousand suites are five thousand samples (bench/bench_evaluations.py)."""

    FAMILIES = (
        ("aiqa_store_up", "1 when the store answered this scrape's quality query in time."),
        ("aiqa_suite_pass_rate", "Passed / (passed + failed) cases of the newest run of each suite and target."),
        ("aiqa_suite_cases", "Cases of the newest run of each suite and target, by outcome."),
        ("aiqa_suite_run_started_timestamp_seconds", "When the newest run of each suite and target started."),
        ("aiqa_evaluation_value", "The newest recorded value of each number of an evaluation."),
    )

    def __init__(self, store, limit: int, timeout_s: float):
        self.store, self.limit, self.timeout_s = store, limit, timeout_s

    def exposition(self) -> str:
        from .errors import StoreUnavailable
        lines = {name: [f"# HELP {name} {text}", f"# TYPE {name} gauge"] for name, text in self.FAMILIES}
        try:
            newest_runs, newest_evaluations = self.store.quality(self.limit, self.timeout_s)
        except StoreUnavailable:
            return "\n".join(lines["aiqa_store_up"] + ["aiqa_store_up 0.0"]) + "\n"
        lines["aiqa_store_up"].append("aiqa_store_up 1.0")
        rates, cases, started = (lines[name] for name in ("aiqa_suite_pass_rate", "aiqa_suite_cases",
                                                          "aiqa_suite_run_started_timestamp_seconds"))
        for suite, target, passed, failed, errors, moment in newest_runs:
            labels = f'suite="{_escape(suite)}",target="{_escape(target)}"'
            if passed + failed:
                rates.append(f"aiqa_suite_pass_rate{{{labels}}} {passed / (passed + failed)!r}")
            cases += (f'aiqa_suite_cases{{{labels},outcome="passed"}} {passed}',
                      f'aiqa_suite_cases{{{labels},outcome="failed"}} {failed}',
                      f'aiqa_suite_cases{{{labels},outcome="error"}} {errors}')
            seconds = moment.replace(tzinfo=datetime.timezone.utc).timestamp()
            started.append(f"aiqa_suite_run_started_timestamp_seconds{{{labels}}} {seconds!r}")
        values = lines["aiqa_evaluation_value"]
        for evaluation in newest_evaluations:
            for key, value in _numbers(evaluation["result"]):
                values.append(f'aiqa_evaluation_value{{name="{_escape(evaluation["name"])}",'
                              f'metric="{_escape(evaluation["metric"])}",key="{_escape(key)}"}} {_number(value)}')
        return "\n".join(line for name, _ in self.FAMILIES for line in lines[name]) + "\n"


def _escape(value: str) -> str:
    """A label value as the text format writes it."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _number(value: float) -> str:
    return repr(float(value))


def _numbers(result, prefix=""):
    """(dotted key, value) for each finite number in a result, nested objects included."""
    if isinstance(result, bool):
        return
    if isinstance(result, (int, float)):
        if result == result and abs(result) != float("inf"):
            yield prefix or "value", float(result)
    elif isinstance(result, dict):
        for key, value in result.items():
            yield from _numbers(value, f"{prefix}.{key}" if prefix else str(key))


@bp.get("/metrics")
def prometheus():
    """Expose Prometheus metrics, summed over workers under gunicorn, and the quality series."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    store = current_app.extensions.get("aiqa.store")
    if store is not None:
        body += QualitySeries(store, current_app.config["QUALITY_SERIES_LIMIT"],
                              current_app.config["QUALITY_TIMEOUT_S"]).exposition().encode()
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def init_app(app) -> None:
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_blueprint(bp)
