"""Request schemas of the metrics endpoints: module-level instances, unknown fields rejected.

Predictions and references are read as raw JSON here and checked per metric in `inputs`, because what
they must be (labels, texts, sentences of tags) depends on the metric; the limits come from the app's
config at request time.
"""
from flask import current_app
from marshmallow import ValidationError, fields, validate, validates_schema

from ..validation import StrictBoolean, StrictFloat, StrictInteger, StrictSchema
from . import bootstrap
from .params import Label

_SEED = validate.Range(min=0, max=2**32 - 1)
_LEVEL = validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False)


def _check_resamples(value: int):
    limit = current_app.config["MAX_RESAMPLES"]
    if not 10 <= value <= limit:
        raise ValidationError(f"Must be between 10 and {limit}.")


class ConfidenceSchema(StrictSchema):
    method = fields.String(load_default="bootstrap", validate=validate.OneOf(["bootstrap"]))
    level = StrictFloat(load_default=bootstrap.LEVEL, validate=_LEVEL, allow_nan=False)
    resamples = StrictInteger(load_default=bootstrap.RESAMPLES, validate=_check_resamples)
    seed = StrictInteger(validate=_SEED)


class RecordLabels(fields.Field):
    """Labels of a record: an object of string values (a number is refused, not turned into text)."""

    def _deserialize(self, value, attr, data, **kwargs):
        from ..runs import FieldErrors, check_labels
        errors = FieldErrors()
        labels = check_labels(errors, value)
        if errors:
            raise ValidationError(errors)
        return labels


def _storable(value: str) -> None:
    from ..runs import UNSTORABLE, storable
    if not storable(value):
        raise ValidationError(UNSTORABLE)


class RecordSchema(StrictSchema):
    """`record: {name, labels}`: keep this evaluation in the store under `name` (GET /v1/evaluations)."""
    name = fields.String(required=True, validate=[
        validate.Length(min=1, max=200), validate.Regexp(r"^\S(.*\S)?$", error="No leading or trailing spaces."),
        _storable])
    labels = RecordLabels(load_default=dict)


def _scored_column(data: dict) -> None:
    """predictions, or prediction_scores (roc_auc's name for them, as evaluate's); the metric says which."""
    if data.get("predictions") is None and data.get("prediction_scores") is None:
        raise ValidationError("Missing data for required field.", "predictions")


class MetricRequestSchema(StrictSchema):
    record = fields.Nested(RecordSchema)
    predictions = fields.Raw()
    prediction_scores = fields.Raw()
    references = fields.Raw()
    params = fields.Dict(keys=fields.String())
    confidence = fields.Nested(ConfidenceSchema)


class MetricRef(fields.Field):
    """A metric name, or {"name": ..., "params": {...}}."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return {"name": value, "params": {}}
        if isinstance(value, dict) and isinstance(value.get("name"), str) and set(value) <= {"name", "params"}:
            if isinstance(value.get("params", {}), dict):
                return {"name": value["name"], "params": value.get("params", {})}
        raise ValidationError('Must be a metric name or {"name": ..., "params": {...}}.')


    @validates_schema
    def scored_column(self, data, **kwargs):
        _scored_column(data)


class MultiMetricRequestSchema(StrictSchema):
    record = fields.Nested(RecordSchema)
    metrics = fields.List(MetricRef(), required=True, validate=validate.Length(min=1, max=20))
    predictions = fields.Raw()
    prediction_scores = fields.Raw()
    references = fields.Raw()
    confidence = fields.Nested(ConfidenceSchema)

    @validates_schema
    def scored_column(self, data, **kwargs):
        _scored_column(data)


class CompareSchema(StrictSchema):
    record = fields.Nested(RecordSchema)
    metric = fields.String(required=True)
    references = fields.Raw()
    predictions_a = fields.Raw(required=True)
    predictions_b = fields.Raw(required=True)
    params = fields.Dict(keys=fields.String())
    key = fields.String()
    level = StrictFloat(load_default=bootstrap.LEVEL, validate=_LEVEL, allow_nan=False)
    resamples = StrictInteger(load_default=bootstrap.RESAMPLES, validate=_check_resamples)
    seed = StrictInteger(validate=_SEED)


class FairnessSchema(StrictSchema):
    record = fields.Nested(RecordSchema)
    predictions = fields.Raw(required=True)
    references = fields.Raw(required=True)
    groups = fields.Raw(required=True)
    metric = fields.String(load_default="accuracy")
    params = fields.Dict(keys=fields.String())
    pos_label = Label(load_default=1)


class TableQuerySchema(StrictSchema):
    """Query parameters of a text/csv upload: the metric's params and the bootstrap's options."""

    scheme = fields.String()
    mode = fields.String()
    suffix = StrictBoolean()
    zero_division = fields.Integer()
    confidence = fields.String(validate=validate.OneOf(["bootstrap"]))
    level = fields.Float(validate=_LEVEL, allow_nan=False)
    resamples = fields.Integer(validate=_check_resamples)
    seed = fields.Integer(validate=_SEED)

    @validates_schema
    def options_need_confidence(self, data, **kwargs):
        if "confidence" not in data and {"level", "resamples", "seed"} & set(data):
            raise ValidationError("Add confidence=bootstrap to ask for intervals.", "confidence")


metric_request_schema = MetricRequestSchema()
multi_metric_request_schema = MultiMetricRequestSchema()
compare_schema = CompareSchema()
fairness_schema = FairnessSchema()
table_query_schema = TableQuerySchema()
