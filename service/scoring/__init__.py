"""Metrics as a service: evaluate-format modules in this package's folders, loaded by local path.

The views call the functions exported here; everything below them is testable without HTTP.
"""
from ..errors import UnsupportedMediaType
from . import bootstrap
from .analysis import compare, fairness
from .catalog import catalog, describe
from .loader import preload
from .runner import compute_many, compute_one, load_params, score, spec_for, validated_inputs
from .table import decode, read_tag_table

__all__ = ["catalog", "compare", "compute_many", "compute_one", "compute_table", "describe", "fairness",
           "preload"]


def compute_table(registry, name: str, raw: bytes, query: dict) -> dict:
    """A metric on an uploaded text/csv table (seqeval's token, reference, prediction columns)."""
    spec = spec_for(name)
    if "text/csv" not in spec.content_types:
        raise UnsupportedMediaType(f"{name} takes application/json; text/csv tables are for seqeval")
    predictions, references = read_tag_table(decode(raw))
    params = load_params(spec, {k: v for k, v in query.items() if k in spec.params.fields})
    options = None
    if query.get("confidence"):
        options = {"method": "bootstrap", "level": query.get("level", bootstrap.LEVEL),
                   "resamples": query.get("resamples", bootstrap.RESAMPLES), **({"seed": query["seed"]} if "seed" in query else {})}
    inputs = validated_inputs(spec, {"predictions": predictions, "references": references}, params)
    answer = score(spec, inputs, params, options, registry)
    answer["input"] = {"sentences": len(references), "tokens": sum(map(len, references))}
    return answer
