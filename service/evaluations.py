"""Recorded evaluations: what a metric request with `record: {name, labels}` keeps of its answer.

The answer is kept with its parameters, intervals, the inputs' size and a hash of the inputs (so two
records of the same data can be recognised without storing the data itself).
"""
from .runs import content_hash

# Keys of an answer that are kept in their own columns rather than in `result`.
_APART = ("params", "confidence_intervals", "confidence")
_IDENTITY = ("model", "revision")


def _items(body: dict) -> int:
    for key in ("predictions", "predictions_a", "references"):
        if isinstance(body.get(key), list):
            return len(body[key])
    return 1  # a bare string: one item


def record(store, record_spec: dict, kind: str, body: dict, answers: list[dict]) -> None:
    """Store one evaluation per answer (several for /v1/metrics) and give each its `evaluation_id`."""
    inputs = {key: value for key, value in body.items() if key not in ("record", "confidence")}
    digest, items = content_hash(inputs), _items(body)
    for answer in answers:
        rest = {key: value for key, value in answer.items() if key not in _APART}
        # A metric's scores are its `result`; a comparison or fairness answer is its result whole.
        result = rest.pop("result") if kind == "metric" else rest
        params = {**answer.get("params", {}), **{key: rest[key] for key in _IDENTITY if key in rest}}
        evaluation = store.record_evaluation({
            "name": record_spec["name"], "metric": answer["metric"], "kind": kind,
            "labels": record_spec.get("labels", {}), "params": params,
            "intervals": answer.get("confidence_intervals"), "items": items, "content_hash": digest,
            "result": result})
        answer["evaluation_id"] = evaluation["id"]


def scored(body: dict, kind: str, compute, store_of) -> dict:
    """`compute(body)`, recorded when the body asks for it: the answer is the unrecorded one plus an
    `evaluation_id` (one per result of /v1/metrics). The store is checked first, so a request that
    must be recorded gets 503 before the work, not after it."""
    record_spec = body.pop("record", None)
    store = store_of() if record_spec else None
    if store is not None:
        store.check()
    answer = compute(body)
    if store is not None:
        record(store, record_spec, kind, body, answer.get("results", [answer]))
    return answer
