"""What each endpoint does, below the HTTP layer: pick the model, run it, shape the answer.

Every answer names the model and its revision and echoes the parameters that change the number,
so a score can be reproduced.
"""
import math

from .errors import ValidationFailed
from .models.causal_lm import TextTooShort


def _identity(model) -> dict:
    return {"model": model.name, "revision": model.revision}


def _ranked(scores: dict, top_k: int | None) -> list[dict]:
    ranked = sorted(({"label": label, "score": score} for label, score in scores.items()),
                    key=lambda item: item["score"], reverse=True)
    return ranked[:top_k] if top_k else ranked


def classify(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "classify")
    labels = data.get("candidate_labels")
    answer = _identity(model)
    if model.can("zero-shot"):
        if not labels:
            raise ValidationFailed(
                f"model {model.name!r} is a causal LM: give candidate_labels to classify zero-shot",
                errors={"candidate_labels": ["Required for a causal LM."]})
        template = data.get("hypothesis_template", "{}")
        scores = model.classify(data["inputs"], candidate_labels=labels, hypothesis_template=template)
        answer.update(candidate_labels=labels, hypothesis_template=template)
    else:
        for field in ("candidate_labels", "hypothesis_template"):
            if field in data:
                raise ValidationFailed(
                    f"model {model.name!r} has fixed labels {list(model.labels)}; {field} does not apply",
                    errors={field: ["Only for zero-shot classification on a causal LM."]})
        scores = model.classify(data["inputs"])
    answer["results"] = [_ranked(row, data.get("top_k")) for row in scores]
    return answer


def perplexity(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "perplexity")
    max_length = data.get("max_length")
    if max_length and max_length > model.max_length:
        raise ValidationFailed(f"max_length {max_length} exceeds {model.name!r}'s limit of {model.max_length}",
                               errors={"max_length": [f"At most {model.max_length}."]})
    stride = data.get("stride")
    if stride and not max_length and stride >= model.max_length:
        raise ValidationFailed(f"stride must be smaller than max_length ({model.max_length})",
                               errors={"stride": [f"Less than {model.max_length}."]})
    try:
        results, max_length, stride = model.perplexity(data["inputs"], max_length, stride)
    except TextTooShort as exc:
        raise ValidationFailed(str(exc), errors={"inputs": [str(exc)]}) from None
    perplexities = [r.perplexity for r in results]
    return {
        **_identity(model),
        "perplexities": perplexities,
        "mean_perplexity": math.fsum(perplexities) / len(perplexities),
        "token_counts": [r.token_count for r in results],
        "max_length": max_length,
        "stride": stride,
    }


def generate(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "generate")
    result = model.generate(
        prompt=data.get("prompt"), messages=data.get("messages"), max_new_tokens=data["max_new_tokens"],
        temperature=data["temperature"], top_p=data["top_p"], seed=data.get("seed"))
    return {**_identity(model), **result, "max_new_tokens": data["max_new_tokens"],
            "temperature": data["temperature"], "top_p": data["top_p"]}


def similarity(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "similarity")
    return {**_identity(model), "scores": model.similarity(data["pairs"])}
