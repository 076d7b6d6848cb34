"""Metrics as a service: scores for predictions other services made, with intervals and comparisons."""
from flask import Blueprint, current_app, jsonify, request
from werkzeug.routing import BaseConverter

from .. import scoring
from ..evaluations import scored
from ..registry import current_registry
from ..store import current_store
from ..scoring.schemas import (
    compare_schema, fairness_schema, metric_request_schema, multi_metric_request_schema, table_query_schema,
)
from . import load_body

bp = Blueprint("metrics", __name__, url_prefix="/v1")


class MetricName(BaseConverter):
    """A metric's name in a path: anything but the two operations that share the prefix, so that
    /v1/metrics/compare and /v1/metrics/fairness answer OPTIONS with exactly their own methods."""
    regex = r"(?!(?:compare|fairness)$)[^/]+"


@bp.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["metric"] = MetricName


@bp.before_request
def _allow_large_bodies():
    # Predictions for a whole test set are far larger than a model request.
    request.max_content_length = current_app.config["MAX_METRIC_CONTENT_LENGTH"]


@bp.get("/metrics")
def list_metrics():
    """List every metric with its inputs and parameters."""
    return jsonify(scoring.catalog())


@bp.get("/metrics/<metric:name>")
def describe_metric(name):
    """Describe one metric."""
    return jsonify(scoring.describe(name))


@bp.post("/metrics")
def compute_metrics():
    """Compute several metrics on the same predictions and references."""
    return jsonify(scored(load_body(multi_metric_request_schema), "metric",
                          lambda body: scoring.compute_many(current_registry(), body), current_store))


@bp.post("/metrics/compare")
def compare():
    """Compare two systems' predictions on the same references with a paired bootstrap."""
    return jsonify(scored(load_body(compare_schema), "compare",
                          lambda body: scoring.compare(current_registry(), body), current_store))


@bp.post("/metrics/fairness")
def fairness():
    """Compute a metric per group and the gaps between groups."""
    return jsonify(scored(load_body(fairness_schema), "fairness",
                          lambda body: scoring.fairness(current_registry(), body), current_store))


@bp.post("/metrics/<metric:name>")
def compute_metric(name):
    """Compute one metric; seqeval also takes a text/csv table."""
    scoring.spec_for(name)  # an unknown metric is a 404 whatever the body holds
    if request.mimetype == "text/csv":
        query = load_body(table_query_schema, request.args.to_dict())
        return jsonify(scoring.compute_table(current_registry(), name, request.get_data(), query))
    return jsonify(scored(load_body(metric_request_schema), "metric",
                          lambda body: scoring.compute_one(current_registry(), name, body), current_store))
