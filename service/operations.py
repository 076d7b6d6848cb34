"""What each endpoint does, below the HTTP layer: pick the model, run it, shape the answer.

Every answer names the model and its revision and echoes the parameters that change the number,
so a score can be reproduced.
"""
import base64
import secrets

from .contract import InputError
from .errors import ValidationFailed, input_problem
from .models.causal_lm import perplexity_answer
from .models.image import SEED_SPACE, encode_png, image_seeds
from .validation import window_problems


def _identity(model) -> dict:
    return {"model": model.name, "revision": model.revision}


def _ranked(scores: dict, top_k: int | None) -> list[dict]:
    ranked = sorted(({"label": label, "score": score} for label, score in scores.items()),
                    key=lambda item: item["score"], reverse=True)
    return ranked[:top_k] if top_k else ranked


def classify(registry, data: dict) -> dict:
    # Labels and no model: the profile's zero-shot model (its `zero-shot` default, or its first causal
    # LM), not the classify default, whose labels may be fixed.
    name = data.get("model") or (registry.default_name("zero-shot") if "candidate_labels" in data else None)
    model = registry.get(name, "classify")
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
    max_length, stride = data.get("max_length"), data.get("stride")
    problems = window_problems(max_length, stride, model.max_length)
    if problems:
        raise ValidationFailed(f"{' and '.join(problems)} too large for {model.name!r}'s window of "
                               f"{model.max_length} tokens", errors={key: [text] for key, text in problems.items()})
    return {**_identity(model), **perplexity_answer(*model.perplexity(data["inputs"], max_length, stride))}


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


def qa(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "qa")
    try:
        results, parameters = model.answer(
            data["inputs"], top_k=data["top_k"], max_answer_len=data.get("max_answer_len"),
            handle_impossible_answer=data["handle_impossible_answer"])
    except InputError as exc:  # a single question and context are top-level fields of the request
        raise input_problem(exc, "inputs" if data["from_inputs"] else None) from None
    return {**_identity(model), "results": results, "top_k": data["top_k"],
            "handle_impossible_answer": data["handle_impossible_answer"], **parameters}


def ner(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "ner")
    found = model.entities(data["inputs"], aggregation=data["aggregation"], word_labels=data["word_labels"])
    answer = {**_identity(model), "aggregation": data["aggregation"], "results": found["entities"]}
    if data["word_labels"]:
        answer.update(words=found["words"], tags=found["tags"])
    return answer


IMAGE_SETTINGS = ("width", "height", "steps", "guidance_scale")


def _image_parameters(model, data: dict) -> dict:
    """What the images are made from: the request, the model's defaults for what it leaves out, and
    a seed drawn here when it gives none (echoed, so the images can be made again)."""
    parameters = {**model.defaults, **{key: data[key] for key in IMAGE_SETTINGS if key in data}}
    if parameters["steps"] > model.max_steps:
        raise ValidationFailed(f"{model.name!r} takes at most {model.max_steps} steps",
                               errors={"steps": [f"At most {model.max_steps} for this model."]})
    seed = data["seed"] if "seed" in data else secrets.randbelow(SEED_SPACE)
    return {"prompt": data["prompt"], "negative_prompt": data.get("negative_prompt"), **parameters,
            "seed": seed, "num_images": data["num_images"]}


def render_images(model, parameters: dict, on_step=None, budget=True) -> dict:
    """Make the images; each PNG carries the parameters that make it again, its own seed included.
    `budget`: refuse work estimated over the request's budget (a job has none)."""
    seeds = image_seeds(parameters["seed"], parameters["num_images"])
    inputs = {key: parameters[key] for key in ("prompt", "negative_prompt", *IMAGE_SETTINGS)}
    images = model.generate(seeds=seeds, on_step=on_step, budget=budget, **inputs)
    pngs = [encode_png(image, {**_identity(model), **inputs, "seed": seed}) for image, seed in zip(images, seeds)]
    settings = {key: parameters[key] for key in ("seed", *IMAGE_SETTINGS, "num_images")}
    return {**_identity(model), **settings, "seeds": seeds,
            "images": [base64.b64encode(png).decode("ascii") for png in pngs]}


def images(registry, data: dict) -> dict:
    model = registry.get(data.get("model"), "images")
    return render_images(model, _image_parameters(model, data))


def image_job(registry, jobs, data: dict) -> dict:
    """Queue the images as a job; its result is what images() would answer."""
    model = registry.get(data.get("model"), "images")
    parameters = _image_parameters(model, data)
    return jobs.submit({**_identity(model), "parameters": parameters},
                       lambda progress: render_images(model, parameters, progress, budget=False))
