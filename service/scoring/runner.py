"""Compute metrics: validate, call the module's `_compute` directly, add bootstrap intervals.

Modules are called through `_compute`, not `EvaluationModule.compute`: the latter writes every item to
an Arrow table first, which costs more than the metric itself (bench/bench_metrics.py measures both).
The checks that `compute` would have made happen in `inputs` and `params`, with clearer messages.
"""
import inspect
import math
import warnings

from marshmallow import ValidationError

from ..contract import InputError
from ..errors import ValidationFailed, input_problem
from ..validation import window_problems
from ..observability import METRIC_COMPUTATIONS
from . import bootstrap, loader
from .inputs import binary_references, check_label_params, label_type, prepare, roc_inputs, varying
from .specs import ANSWERS, LABELS, PROBABILITIES, SCORES, SPECS

_NOT_PARAMETERS = {"self", "predictions", "references", "sample_weight", "model"}
# What a request calls the column a metric scores: predictions, or prediction_scores (roc_auc's name).
SCORED_COLUMNS = ("predictions", "prediction_scores")


def spec_for(name: str):
    spec = SPECS.get(name)
    if spec is None:
        raise loader.unknown_metric(name)
    return spec


def defaults(name: str) -> dict:
    """The module's own defaults, read from its `_compute` signature."""
    signature = inspect.signature(loader.module(name)._compute)
    return {key: (None if value.default is inspect.Parameter.empty else value.default)
            for key, value in signature.parameters.items() if key not in _NOT_PARAMETERS}


def load_params(spec, raw) -> dict:
    try:
        return spec.params.load(raw or {})
    except ValidationError as exc:
        known = ", ".join(spec.params.fields) or "none"
        fields = ", ".join(sorted(map(str, exc.messages)))
        raise ValidationFailed(f"invalid params for {spec.name}: {fields} (known parameters: {known})",
                               errors={"params": exc.messages}) from None


def columns_for(spec, data: dict, fields=None) -> dict:
    """The raw input columns this metric takes (its own scored column, e.g. roc_auc's
    prediction_scores, unless `fields` names others), with the references where it needs them."""
    if fields is None:
        field, other = spec.input_field, next(f for f in SCORED_COLUMNS if f != spec.input_field)
        if data.get(field) is None:
            said = f"; it does not take {other}" if data.get(other) is not None else ""
            raise ValidationFailed(f"{spec.name} scores {field}{said}",
                                   errors={field: ["Missing data for required field."]})
        fields = (field,)
    columns = {field: data[field] for field in fields}
    if spec.references:
        if data.get("references") is None:
            raise ValidationFailed(f"{spec.name} needs references", errors={"references": ["Missing data."]})
        columns["references"] = data["references"]
    elif "references" in data:
        raise ValidationFailed(f"{spec.name} takes no references",
                               errors={"references": [f"{spec.name} scores predictions alone."]})
    return columns


def validated_inputs(spec, columns: dict, params: dict) -> dict:
    inputs = prepare(spec, columns, params)
    check_params_against(spec, inputs, params)
    return inputs


def check_params_against(spec, inputs: dict, params: dict) -> None:
    """What one metric asks of inputs validated for its kind (several metrics may share them)."""
    if spec.kind == LABELS:
        check_label_params(params, label_type(next(iter(inputs.values()))))
    if spec.kind == PROBABILITIES:
        binary_references(params, inputs["references"])
    if spec.kind == SCORES:
        roc_inputs(params, inputs)
    count = len(inputs["references"]) if "references" in inputs else len(next(iter(inputs.values())))
    if count < spec.min_items:
        raise ValidationFailed(f"{spec.name} needs {spec.min_items} items at least; it has {count}",
                               errors={"references": [f"At least {spec.min_items} items."]})
    if spec.varying:
        varying(spec, inputs)
    if spec.rate_of_references and not any(text.strip() for text in inputs["references"]):
        raise ValidationFailed(f"{spec.name} counts errors per reference word: every reference is blank",
                               errors={"references": ["At least one reference must hold a word."]})


def run(spec, inputs: dict, params: dict, registry) -> tuple[dict, dict]:
    """(result, identity): the module's result, and the model that produced it for model metrics."""
    module, call_params, identity = loader.module(spec.name), dict(params), {}
    if spec.capability:
        model = registry.get(call_params.pop("model", None), spec.capability)
        _check_model_limits(model, call_params)
        call_params["model"], identity = model, {"model": model.name, "revision": model.revision}
    try:
        with warnings.catch_warnings():  # an undefined score is refused below, not warned about
            warnings.simplefilter("ignore")
            result = module._compute(**inputs, **call_params)
    except InputError as exc:  # the model was given the predictions as its inputs
        raise input_problem(exc, "predictions") from None
    except ValueError as exc:  # the reference library's own complaint about these inputs
        raise ValidationFailed(f"{spec.name}: {exc}", errors={"_schema": [str(exc)]}) from None
    undefined = sorted(key for key, value in result.items() if not _finite(value))
    if undefined:  # JSON has no NaN: an undefined score is the input's problem, said as such
        raise ValidationFailed(f"{spec.name} is undefined on these inputs ({', '.join(undefined)} would be NaN "
                               "or infinite): a class, value or reference they need is missing",
                               errors={"_schema": [f"{spec.name} is undefined on these inputs."]})
    return result, identity


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(map(_finite, value))
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    return True


def _check_model_limits(model, params: dict) -> None:
    limit = getattr(model, "max_length", None)
    problems = window_problems(params.get("max_length"), params.get("stride"), limit) if limit else {}
    if problems:
        raise ValidationFailed(f"params.{' and params.'.join(problems)} too large for {model.name!r}'s window of "
                               f"{limit} tokens", errors={"params": {key: [text] for key, text in problems.items()}})


def confidence(spec, inputs: dict, params: dict, result: dict, options: dict) -> dict:
    if spec.resampling is None:
        raise ValidationFailed(f"{spec.name} has no scalar result to bootstrap",
                               errors={"confidence": [f"Not available for {spec.name}."]})
    options = {**options, "seed": options.get("seed", bootstrap.new_seed())}
    resample_params = {k: v for k, v in params.items() if k != "model"}
    intervals = bootstrap.confidence_intervals(spec, loader.module(spec.name), inputs, resample_params, result,
                                               options)
    return {"confidence": options, "confidence_intervals": intervals}


def score(spec, inputs: dict, params: dict, options: dict | None, registry) -> dict:
    """One metric's full answer: params as used, result, and intervals when asked for."""
    result, identity = run(spec, inputs, params, registry)
    answer = {"metric": spec.name, **identity, "params": {**defaults(spec.name), **params}, "result": result}
    if options:
        answer.update(confidence(spec, inputs, params, result, options))
    METRIC_COMPUTATIONS.labels(spec.name).inc()
    return answer


def compute_one(registry, name: str, data: dict) -> dict:
    spec = spec_for(name)
    unused = next((f for f in SCORED_COLUMNS if f != spec.input_field and f in data), None)
    if unused:  # several metrics in one request may take different columns; one metric takes one
        raise ValidationFailed(f"{spec.name} scores {spec.input_field}, not {unused}",
                               errors={unused: [f"{spec.name} takes {spec.input_field} instead."]})
    params = load_params(spec, data.get("params"))
    inputs = validated_inputs(spec, columns_for(spec, data), params)
    return score(spec, inputs, params, data.get("confidence"), registry)


def compute_many(registry, data: dict) -> dict:
    """Several metrics on the same inputs; inputs are validated once per kind of metric."""
    read = {spec_for(entry["name"]).input_field for entry in data["metrics"]}  # an unknown name: 404 first
    for field in SCORED_COLUMNS:
        if field in data and field not in read:  # a column no metric reads is not silently dropped
            raise ValidationFailed(f"no metric asked for reads {field}",
                                   errors={field: ["None of the metrics asked for takes it."]})
    answers, validated = [], {}
    for index, entry in enumerate(data["metrics"]):
        try:
            spec = spec_for(entry["name"])
            params = load_params(spec, entry["params"])
            # Inputs read once per way of reading them (squad and squad_v2 read answers differently).
            key = (spec.kind, spec.references, spec.multi_reference, params.get("suffix", False),
                   spec.name if spec.kind == ANSWERS else None)
            if key not in validated:
                validated[key] = prepare(spec, columns_for(spec, data), params)
            check_params_against(spec, validated[key], params)
            # Intervals for the metrics that have a scalar to resample; a confusion matrix has none.
            options = data.get("confidence") if spec.resampling else None
            answers.append(score(spec, validated[key], params, options, registry))
        except ValidationFailed as exc:
            exc.detail = f"metrics[{index}] ({entry['name']}): {exc.detail}"
            raise
    return {"results": answers}
