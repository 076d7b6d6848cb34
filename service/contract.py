"""What a caller may ask of a model: the seam between the service and its models, said once.

Every model kind (service/models) declares the capabilities it serves. Each capability is served by
one method of the model, and a caller may read the attributes every model has (DESCRIBED) and those
its capability names (`reads`). Nothing else of a model is the caller's business: operations.py,
the scoring runner and bias.py call these methods only (a test holds them to it), the model process
(service/model_process) forwards exactly these calls and copies exactly these attributes.

A model raises one domain error for input it cannot take, InputError, and never an HTTP error: the
layer above chooses the status (errors.input_problem: 422, or 413 for input that is well formed but
does not fit the device, or whose work is over the request's budget: OverBudget, from
service.admission). Standard library only: the gunicorn master imports it through
service.model_process and must never import torch.
"""
from dataclasses import dataclass, field


@dataclass
class ModelSpec:
    """One entry of a profile's `models:` list: what the registry hands a model kind to load."""
    name: str
    task: str
    source: str | None = None
    base: str | None = None          # for models built on another model (zero-shot classifiers)
    revision: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Capability:
    method: str              # the model method that serves it
    reads: tuple = ()        # attributes a caller of this capability may read besides DESCRIBED


CAPABILITIES = {
    "classify": Capability("classify", reads=("labels",)),
    "zero-shot": Capability("classify"),
    "perplexity": Capability("perplexity", reads=("max_length",)),
    "loglikelihood": Capability("label_loglikelihoods", reads=("max_length",)),
    "generate": Capability("generate", reads=("max_length",)),
    "qa": Capability("answer"),
    "ner": Capability("entities"),
    "embed": Capability("embed"),
    "similarity": Capability("similarity"),
    "images": Capability("generate", reads=("defaults", "max_steps")),
}
DESCRIBED = ("name", "task", "revision", "device", "capabilities")
CALLS = frozenset(capability.method for capability in CAPABILITIES.values())
ATTRIBUTES = DESCRIBED + tuple(sorted({name for capability in CAPABILITIES.values() for name in capability.reads}))


class InputError(ValueError):
    """An input the model cannot take as it is: a question that leaves no room for the context, a
    text longer than the model's window, images that do not fit the device's memory.

    index: the input's position in the list the model was given (None: the request as a whole);
    field: the request field at fault; hint: what to say at that field (the message by default);
    each: {index: hint} when several inputs are at fault; too_large: well formed, but more than the
    device holds (asking for less helps)."""

    def __init__(self, index: int | None, field: str, message: str, *, hint: str | None = None,
                 each: dict | None = None, too_large: bool = False):
        super().__init__(message)
        self.index, self.field, self.hint, self.each, self.too_large = index, field, hint, each, too_large

    def __reduce__(self):  # crosses the model process's socket (service/model_process)
        return _rebuild, (type(self), self.index, self.field, str(self), vars(self))


class OverBudget(InputError):
    """Well-formed input whose work is estimated to take longer than a request may (service.admission):
    asking for less helps. Carries the estimate and the limit, in seconds, and the work in units."""

    def __init__(self, field: str, message: str, *, estimate_s: float = 0.0, limit_s: float = 0.0,
                 units: int = 0, unit: str = "", **kwargs):
        super().__init__(None, field, message, too_large=True, **kwargs)
        self.estimate_s, self.limit_s, self.units, self.unit = estimate_s, limit_s, units, unit


def _rebuild(kind, index, field, message, state):
    error = kind.__new__(kind)
    InputError.__init__(error, index, field, message)
    vars(error).update(state)
    return error

