"""Suite runs: record, list, read, delete, and compare with a baseline; recorded evaluations."""
from flask import Blueprint, current_app, jsonify, request, url_for

from .. import runs
from ..errors import ValidationFailed
from ..runs import LABEL_KEY
from ..schemas import compare_query, evaluation_list_query, run_list_query
from ..store import current_store
from . import load_body, read_json_keeping

bp = Blueprint("runs", __name__, url_prefix="/v1")
MAX_IDEMPOTENCY_KEY = 200


@bp.before_request
def _allow_run_bodies():
    # A run of a few thousand cases with their replies is larger than a scoring request.
    request.max_content_length = current_app.config["MAX_RUN_CONTENT_LENGTH"]


def query(schema, *, labels=False) -> dict:
    """The query string through `schema`; `label=key:value` (repeatable) filters by label."""
    args = {key: value for key, value in request.args.items() if key != "label"}
    if not labels and "label" in request.args:
        args["label"] = request.args["label"]  # refused by the schema as unknown
    data = load_body(schema, args)
    if labels:
        data["labels"] = label_filter(request.args.getlist("label"))
    return data


def label_filter(values: list[str]) -> dict:
    found = {}
    for value in values:
        key, sep, wanted = value.partition(":")
        if not sep or not LABEL_KEY.match(key):
            raise ValidationFailed(f"label filter {value!r} is not key:value",
                                   errors={"label": ["Each label filter is key:value, e.g. branch:main."]})
        found[key] = wanted
    return found


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isprintable()):
        raise ValidationFailed("Idempotency-Key must be 1-200 printable characters",
                               errors={"Idempotency-Key": ["1-200 printable characters."]})
    return key


@bp.post("/runs")
def record_run():
    """Record a suite run; a retry with the same id or Idempotency-Key answers the stored run."""
    body, cases_text = read_json_keeping("cases")
    run = runs.read_run(body, current_app.config, cases_text)
    stored, created = current_store().record_run(run, idempotency_key())
    response = jsonify(stored)
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("runs.get_run", run_id=stored["id"])
    return response


@bp.get("/runs")
def list_runs():
    """List runs newest first, filtered by suite, target, label and time; `next` pages on."""
    return jsonify(current_store().list_runs(query(run_list_query, labels=True)))


@bp.get("/runs/<run_id>")
def get_run(run_id):
    """Read one run with its cases."""
    return jsonify(current_store().get_run(run_id))


@bp.delete("/runs/<run_id>")
def delete_run(run_id):
    """Delete one run."""
    current_store().delete_run(run_id)
    return "", 204


@bp.get("/runs/<run_id>/compare")
def compare_run(run_id):
    """Compare a run with its baseline: flips, McNemar's exact test, paired intervals, a verdict."""
    return jsonify(runs.compare(current_store(), run_id, query(compare_query, labels=True)))


@bp.get("/evaluations")
def list_evaluations():
    """List recorded metric evaluations newest first, by name, metric, kind, label and time."""
    return jsonify(current_store().list_evaluations(query(evaluation_list_query, labels=True)))


@bp.get("/evaluations/<evaluation_id>")
def get_evaluation(evaluation_id):
    """Read one recorded evaluation."""
    return jsonify(current_store().get_evaluation(evaluation_id))
