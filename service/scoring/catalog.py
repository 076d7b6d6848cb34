"""The catalog: what each metric computes, what it takes, and its parameters with their defaults."""
from marshmallow import fields, validate

from . import loader
from .params import Label
from .runner import defaults, spec_for
from .specs import SPECS

_TYPES = [(fields.Boolean, "boolean"), (fields.Integer, "integer"), (fields.Float, "number"),
          (fields.String, "string"), (fields.List, "array"), (Label, "integer or string")]


def _type(field) -> str:
    return next(name for kind, name in _TYPES if isinstance(field, kind))


def _choices(field) -> list | None:
    inner = field.inner if isinstance(field, fields.List) else field
    for validator in inner.validators:
        if isinstance(validator, validate.OneOf):
            return list(validator.choices)
    return None


def _parameter(field, default) -> dict:
    entry = {"type": _type(field), "default": default, "description": field.metadata.get("description", "")}
    choices = _choices(field)
    if choices is not None:
        entry["choices"] = choices
    return entry


def describe(name: str) -> dict:
    spec = spec_for(name)
    info = loader.module(name).info
    own_defaults = defaults(name)
    return {
        "name": name,
        "description": " ".join(info.description.split()),
        "inputs": spec.input_descriptions,
        "parameters": {field_name: _parameter(field, own_defaults.get(field_name))
                       for field_name, field in spec.params.fields.items()},
        "primary_key": spec.primary,
        "confidence": spec.resampling is not None,
        "content_types": spec.content_types,
        "reference_urls": list(info.reference_urls or []),
    }


def catalog() -> dict:
    return {"metrics": [describe(name) for name in sorted(SPECS)]}
