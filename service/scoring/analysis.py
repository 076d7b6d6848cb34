"""Questions asked of two systems or of groups: is B really better than A, and is a model fair?"""
import numpy as np

from ..errors import ValidationFailed
from ..observability import METRIC_COMPUTATIONS
from . import bootstrap, loader
from .inputs import labels, label_type, same_length
from .runner import columns_for, defaults, load_params, run, spec_for, validated_inputs
from .specs import LABELS

MAX_GROUPS = 100  # each group is one metric computation


def _scalar_key(spec, results: list[dict], key: str | None) -> str:
    key = key or spec.primary
    scalars = [k for k, v in results[0].items() if isinstance(v, (int, float))]
    if key not in scalars:
        raise ValidationFailed(f"{spec.name} has no scalar result {key!r}; choose one of {scalars}",
                               errors={"key": [f"One of {scalars}."]})
    return key


def compare(registry, data: dict) -> dict:
    """The difference b - a, its paired-bootstrap interval and p-value; McNemar's test for accuracy."""
    spec = spec_for(data["metric"])
    if spec.resampling is None:
        raise ValidationFailed(f"{spec.name} has no scalar result to compare",
                               errors={"metric": [f"{spec.name} cannot be compared."]})
    params = load_params(spec, data.get("params"))
    inputs = validated_inputs(spec, columns_for(spec, data, ("predictions_a", "predictions_b")), params)
    shared = {"references": inputs["references"]} if spec.references else {}
    systems = [{spec.input_field: inputs[field], **shared} for field in ("predictions_a", "predictions_b")]
    runs = [run(spec, system, params, registry) for system in systems]
    results = [result for result, _ in runs]
    key = _scalar_key(spec, results, data.get("key"))
    options = {"level": data["level"], "resamples": data["resamples"], "seed": data.get("seed", bootstrap.new_seed())}
    resample_params = {k: v for k, v in params.items() if k != "model"}
    answer = {"metric": spec.name, **runs[0][1], "params": {**defaults(spec.name), **params}, "key": key,
              "a": results[0][key], "b": results[1][key],
              **bootstrap.paired_difference(spec, loader.module(spec.name), systems, resample_params, results,
                                            key, options),
              "resamples": options["resamples"], "seed": options["seed"]}
    if spec.name == "accuracy":
        answer["mcnemar"] = bootstrap.mcnemar(inputs["references"], inputs["predictions_a"], inputs["predictions_b"])
    METRIC_COMPUTATIONS.labels(spec.name).inc()
    return answer


def _rate(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if len(hits) else None


def _spread(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(max(known) - min(known)) if len(known) >= 2 else None


def fairness(registry, data: dict) -> dict:
    """The metric per group, and the largest gaps between groups in positive rate and true-positive rate."""
    spec = spec_for(data["metric"])
    if spec.kind != LABELS or spec.resampling is None:
        raise ValidationFailed(f"fairness needs a scalar label metric, not {spec.name}",
                               errors={"metric": ["One of accuracy, precision, recall, f1, matthews_corrcoef."]})
    params, pos_label = load_params(spec, data.get("params")), data["pos_label"]
    inputs = validated_inputs(spec, columns_for(spec, data), params)
    predictions, references = inputs["predictions"], inputs["references"]
    groups = _groups(data["groups"], len(predictions))
    _check_pos_label(pos_label, predictions, references)
    if "pos_label" in spec.params.fields and params.get("average", "binary") == "binary":
        params.setdefault("pos_label", pos_label)  # the metric's positive class is the one named here
    report = {}
    for group in np.unique(groups):
        member = groups == group
        result, _ = run(spec, {"predictions": predictions[member], "references": references[member]}, params, registry)
        positive = references[member] == pos_label
        report[str(group)] = {"count": int(member.sum()), "result": result,
                              "positive_rate": _rate(predictions[member] == pos_label),
                              "true_positive_rate": _rate(predictions[member][positive] == pos_label)}
    METRIC_COMPUTATIONS.labels(spec.name).inc()
    return {"metric": spec.name, "params": {**defaults(spec.name), **params}, "pos_label": pos_label,
            "groups": report,
            "demographic_parity_difference": _spread([g["positive_rate"] for g in report.values()]),
            "equal_opportunity_difference": _spread([g["true_positive_rate"] for g in report.values()])}


def _groups(values, count: int) -> np.ndarray:
    groups, _ = labels(values, "groups")
    same_length({"predictions": range(count), "groups": groups})
    if len(np.unique(groups)) > MAX_GROUPS:
        raise ValidationFailed(f"groups has more than {MAX_GROUPS} distinct values",
                               errors={"groups": [f"At most {MAX_GROUPS} distinct groups."]})
    return groups


def _check_pos_label(pos_label, predictions: np.ndarray, references: np.ndarray) -> None:
    kind = label_type(references)
    if isinstance(pos_label, bool) or not isinstance(pos_label, kind):
        raise ValidationFailed(f"pos_label {pos_label!r} is not of the labels' type; name the positive label",
                               errors={"pos_label": ["Must have the labels' type."]})
    if not (np.any(references == pos_label) or np.any(predictions == pos_label)):
        raise ValidationFailed(f"pos_label {pos_label!r} occurs in neither predictions nor references",
                               errors={"pos_label": ["Name a label that occurs."]})
