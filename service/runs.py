"""Suite runs: read a posted run (the runner's JSON report), store it, compare it with a baseline.

The body is checked by hand rather than by a marshmallow schema: a run carries hundreds of cases
with their attempts, and a schema's per-field machinery costs more than storing them (bench/
bench_records.py); a well-formed case is checked without building a field name per field. Every
error still names its field, as `cases[3].status`.
"""
import hashlib
import json
import re
from collections import Counter
from datetime import datetime

from aiqa_client.comparison import GATES, compare_runs, target_key

from .errors import PayloadTooLarge, ValidationFailed
from .store.pages import as_stored, now

OUTCOMES = ("passed", "failed", "error")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
LABEL_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_LABELS, MAX_LABEL_CHARS = 32, 500
# What the runner's report holds besides the fields checked below; kept as sent under `report`.
REPORT_FIELDS = {"file", "passed", "pass_rate", "pass_rate_threshold", "pass_rate_interval", "failed_required",
                 "counts", "seconds", "service", "canary", "comparison", "gate", "pass_rate_gate", "attacks", "warnings",
                 "max_errors", "pass_hat"}
RUN_FIELDS = {"id", "suite", "target", "cases", "labels", "started_at", "finished_at"}


class FieldErrors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _text(errors, data, key, where, limit, *, required=True, column=True):
    """A non-empty string of at most `limit` characters; `column`: one kept in a text column."""
    value = data.get(key)
    if value is None and not required and key not in data:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(where, "Must be a non-empty string." if key in data else "Missing data for required field.")
        return None
    if len(value) > limit:
        errors.add(where, f"At most {limit} characters.")
    elif column and not storable(value):
        errors.add(where, UNSTORABLE)
    return value


def _moment(errors, data, key):
    """An ISO 8601 time with its offset, as naive UTC; a time without a zone is refused, not guessed."""
    if key not in data:
        return None
    value = data[key]
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors.add(key, "Must be an ISO 8601 date-time with a time zone, e.g. 2026-12-02T10:00:00Z.")
        return None
    return as_stored(moment)


def check_labels(errors, labels, where="labels") -> dict:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        errors.add(where, "Must be an object of string values.")
        return {}
    if len(labels) > MAX_LABELS:
        errors.add(where, f"At most {MAX_LABELS} labels.")
    for key, value in labels.items():
        if not LABEL_KEY.match(key):
            errors.add(f"{where}.{key}", "Label names are 1-64 letters, digits, '_', '.' or '-'.")
        if not isinstance(value, str) or len(value) > MAX_LABEL_CHARS:
            errors.add(f"{where}.{key}", f"Must be a string of at most {MAX_LABEL_CHARS} characters.")
        elif not storable(value):
            errors.add(f"{where}.{key}", UNSTORABLE)
    return labels


# A NUL character or half of a surrogate pair (valid JSON escapes: "\u0000", "\ud800") cannot be
# kept in a text column: PostgreSQL refuses the first, neither back end can encode the second.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "Must not hold a NUL character or an unpaired surrogate."


def storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def _case(errors, case, where, seen: set) -> None:
    if not isinstance(case, dict):
        errors.add(where, "Must be an object.")
        return
    case_id = _text(errors, case, "id", f"{where}.id", 200, column=False)  # kept in the case's JSON
    if case_id is not None:
        if case_id in seen:
            errors.add(f"{where}.id", f"Duplicate case id {case_id!r}: cases pair up by id.")
        seen.add(case_id)
    _text(errors, case, "type", f"{where}.type", 50, column=False)
    if case.get("status") not in OUTCOMES:
        errors.add(f"{where}.status", f"Must be one of: {', '.join(OUTCOMES)}.")
    attempts = case.get("attempts", [])
    if not isinstance(attempts, list):
        errors.add(f"{where}.attempts", "Must be a list.")
        return
    for index, attempt in enumerate(attempts):
        if not isinstance(attempt, dict) or not isinstance(attempt.get("passed"), bool):
            errors.add(f"{where}.attempts[{index}].passed", "Each attempt is an object with a boolean `passed`.")
        elif "reason" in attempt and not isinstance(attempt["reason"], str):
            errors.add(f"{where}.attempts[{index}].reason", "Must be a string.")
        elif not _attempt_status(attempt):
            errors.add(f"{where}.attempts[{index}].status", "One of: passed, failed, error; passed exactly when "
                                                            "`passed` is true.")


def _attempt_status(attempt: dict) -> bool:
    """An attempt's optional status agrees with its `passed` (an errored attempt has passed false)."""
    status = attempt.get("status", "passed" if attempt["passed"] else "failed")
    return status in OUTCOMES and (status == "passed") == attempt["passed"]


def _well_formed(case, seen: set) -> bool:
    """The check of _case for a case that passes it, without building a field name per field: a run's
    cases are almost always well formed, and a field name is only needed for an error."""
    if type(case) is not dict:
        return False
    case_id, kind, attempts = case.get("id"), case.get("type"), case.get("attempts", [])
    if (type(case_id) is not str or not 0 < len(case_id) <= 200 or not case_id.strip() or case_id in seen
            or type(kind) is not str or not 0 < len(kind) <= 50 or not kind.strip()
            or case.get("status") not in OUTCOMES or type(attempts) is not list):
        return False
    for attempt in attempts:
        if type(attempt) is not dict or type(attempt.get("passed")) is not bool \
                or type(attempt.get("reason", "")) is not str or not _attempt_status(attempt):
            return False
    seen.add(case_id)
    return True


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _report_fields(errors, body: dict, counts: dict) -> None:
    """The report's own numbers, where present: counts that are integers and agree with the cases, a
    duration and rates that are numbers. Anything else in the report is kept as sent."""
    sent = body.get("counts")
    if "counts" in body:
        if not isinstance(sent, dict):
            errors.add("counts", "Must be an object of integers.")
        else:
            for key in sorted(set(sent) - set(counts)):
                errors.add(f"counts.{key}", "Unknown field.")
            for key, value in sent.items():
                if key not in counts:
                    continue
                if not _integer(value):
                    errors.add(f"counts.{key}", "Must be an integer.")
                elif counts and value != counts[key]:
                    errors.add(f"counts.{key}", f"Says {value}, but the cases hold {counts[key]}.")
    for key, nullable in (("seconds", False), ("pass_rate", True), ("pass_rate_threshold", True)):
        if key in body and not (body[key] is None and nullable):
            value = body[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value or value < 0:
                errors.add(key, "Must be a non-negative number.")
    for key in ("passed",):
        if key in body and not isinstance(body[key], bool):
            errors.add(key, "Must be true or false.")
    for key, nullable in (("file", False), ("service", True), ("canary", True)):
        if key in body and not (isinstance(body[key], str) or (body[key] is None and nullable)):
            errors.add(key, "Must be a string or null." if nullable else "Must be a string.")
    if "pass_rate_gate" in body and body["pass_rate_gate"] not in GATES:
        errors.add("pass_rate_gate", f"Must be {' or '.join(GATES)}.")
    if "max_errors" in body and not (_integer(body["max_errors"]) and body["max_errors"] >= 0):
        errors.add("max_errors", "Must be an integer, 0 or more.")
    if "warnings" in body and not (isinstance(body["warnings"], list)
                                   and all(isinstance(item, str) for item in body["warnings"])):
        errors.add("warnings", "Must be a list of strings.")


def read_run(body: dict, config, cases_text: str | None = None) -> dict:
    """Check a posted run; the run as the store takes it, or a 422 naming every bad field.
    `cases_text`: the JSON text the cases array was sent as, kept as it is; else it is serialized."""
    errors = FieldErrors()
    for key in sorted(set(body) - RUN_FIELDS - REPORT_FIELDS):
        errors.add(key, "Unknown field.")
    run_id = body.get("id")
    if "id" in body and not (isinstance(run_id, str) and RUN_ID.match(run_id)):
        errors.add("id", "1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit.")
    suite = _text(errors, body, "suite", "suite", 200)
    target = body.get("target")
    if not isinstance(target, dict):
        errors.add("target", "Must be an object with type and url." if "target" in body
                   else "Missing data for required field.")
        target = {}
    else:
        for key in sorted(set(target) - {"type", "url", "model"}):
            errors.add(f"target.{key}", "Unknown field.")
        _text(errors, target, "type", "target.type", 50)
        _text(errors, target, "url", "target.url", 500)
        _text(errors, target, "model", "target.model", 200, required=False)
    cases = body.get("cases")
    if not isinstance(cases, list) or not cases:
        errors.add("cases", "Must be a non-empty list of cases." if "cases" in body
                   else "Missing data for required field.")
        cases = []
    elif len(cases) > config["MAX_RUN_CASES"]:
        raise PayloadTooLarge(f"a run holds at most {config['MAX_RUN_CASES']} cases, got {len(cases)}",
                              errors={"cases": [f"At most {config['MAX_RUN_CASES']} cases."]})
    seen = set()
    for index, case in enumerate(cases):
        if not _well_formed(case, seen):
            _case(errors, case, f"cases[{index}]", seen)
    labels = check_labels(errors, body.get("labels"))
    started, finished = _moment(errors, body, "started_at"), _moment(errors, body, "finished_at")
    if started and finished and finished < started:
        errors.add("finished_at", "Must not be before started_at.")
    counts = {}
    if not errors:
        outcomes = Counter(case["status"] for case in cases)
        counts = {"cases": len(cases), "passed": outcomes["passed"], "failed": outcomes["failed"],
                  "errors": outcomes["error"]}
    _report_fields(errors, body, counts)
    if errors:
        raise ValidationFailed(f"invalid run: {', '.join(sorted(errors))}", errors=dict(errors))
    target = {"type": target["type"], "url": target["url"], "model": target.get("model")}
    # The text the cases arrived in is what the store splits into rows; it also makes the content hash.
    # The same content sent with other spacing or key order hashes differently, and a retry is then
    # recognised by comparing the content itself (store.runs.replay).
    if cases_text is None:
        cases_text = json.dumps(cases, separators=(",", ":"))
    digest = hashlib.sha256(canonical({key: value for key, value in body.items() if key != "cases"}).encode())
    digest.update(cases_text.encode())
    return {"id": run_id, "suite": suite, "target": target, "target_key": target_key(target), "labels": labels,
            "cases": cases, "cases_text": cases_text, "counts": counts, "started_at": started or now(),
            "started_at_sent": started is not None, "finished_at": finished,
            "report": {key: body[key] for key in REPORT_FIELDS & set(body)}, "content_hash": digest.hexdigest()}


def canonical(data) -> str:
    """JSON text that is the same for the same content, whatever order its keys were sent in."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(data) -> str:
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def compare(store, run_id: str, query: dict) -> dict:
    """A run against its baseline (a run id or `latest`): flips, McNemar, paired intervals, verdict."""
    current, baseline = store.run_and_baseline(run_id, query["baseline"], query.get("labels", {}))
    return compare_runs(current, baseline, alpha=query["alpha"], resamples=query["resamples"], seed=query["seed"],
                        unchanged=query["unchanged"])
