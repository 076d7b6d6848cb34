"""The model-call contract (service/contract.py) is the one list of what a caller may ask of a model:
every model kind serves its capabilities through it, the model process forwards exactly it, and the
service's callers ask nothing else."""
import re
from pathlib import Path

import pytest

from service import contract, model_process
from service.contract import CALLS, CAPABILITIES, InputError
from service.errors import PayloadTooLarge, ValidationFailed, input_problem
from service.models import DERIVED, LOADERS

SERVICE = Path(__file__).resolve().parents[2] / "service"
CALLERS = [SERVICE / "operations.py", SERVICE / "bias.py", *sorted((SERVICE / "scoring").rglob("*.py"))]


@pytest.mark.parametrize("kind", [*LOADERS.values(), *DERIVED.values()], ids=lambda kind: kind.__name__)
def test_every_capability_a_model_kind_declares_is_in_the_contract_and_served(kind):
    unknown = set(kind.capabilities) - set(CAPABILITIES)
    assert not unknown, f"{kind.__name__} declares {sorted(unknown)}: add them to service/contract.py"
    for capability in kind.capabilities:
        assert callable(getattr(kind, CAPABILITIES[capability].method, None)), (kind.__name__, capability)


def test_the_model_process_forwards_exactly_the_contracts_calls():
    assert model_process.CALLS is contract.CALLS and model_process.ATTRIBUTES is contract.ATTRIBUTES
    assert CALLS == {capability.method for capability in CAPABILITIES.values()}
    from service.model_process.client import RemoteModel
    remote = RemoteModel(client=None, attributes={"name": "m", "capabilities": frozenset()}, description={})
    for method in CALLS:
        assert callable(getattr(remote, method))
    for internal in ("encode", "token_logprobs", "forward", "batched", "warmup"):
        with pytest.raises(AttributeError):
            getattr(remote, internal)


def test_the_services_callers_ask_a_model_only_what_the_contract_says():
    """A method called on a model (or an attribute read) anywhere above the models must be in the
    contract: otherwise it works inline and breaks in the model process."""
    called, read = set(), set()
    for path in CALLERS:
        text = path.read_text()
        called |= set(re.findall(r"\bmodel\.(\w+)\(", text))
        read |= set(re.findall(r"\bmodel\.(\w+)\b(?!\()", text))
    assert called and called <= CALLS | {"can", "describe"}, called - CALLS
    assert read <= set(contract.ATTRIBUTES), read - set(contract.ATTRIBUTES)


@pytest.mark.parametrize("error, listed_as, status, errors", [
    (InputError(None, "inputs", "inputs[0] has 1 token(s)"), "inputs", 422, {"inputs": ["inputs[0] has 1 token(s)"]}),
    (InputError(None, "inputs", "inputs[0] has 1 token(s)"), "predictions", 422,
     {"predictions": ["predictions[0] has 1 token(s)"]}),
    (InputError(2, "question", "no room"), "inputs", 422, {"inputs": {2: {"question": ["no room"]}}}),
    (InputError(0, "context", "no words"), None, 422, {"context": {0: ["no words"]}}),
    (InputError(1, "inputs", "too long"), "inputs", 422, {"inputs": {1: ["too long"]}}),
    (InputError(None, "inputs", "2 do not fit", each={1: "a", 4: "b"}), "inputs", 422,
     {"inputs": {1: ["a"], 4: ["b"]}}),
    (InputError(None, "max_new_tokens", "exceeds the window", hint="At most 3."), "inputs", 422,
     {"max_new_tokens": ["At most 3."]}),
    (InputError(None, "num_images", "do not fit", hint="Fewer.", too_large=True), "inputs", 413,
     {"num_images": ["Fewer."]}),
])
def test_an_input_error_becomes_one_problem_at_the_inputs_place(error, listed_as, status, errors):
    problem = input_problem(error, listed_as)
    assert isinstance(problem, PayloadTooLarge if status == 413 else ValidationFailed)
    assert problem.status == status and problem.errors == errors
