"""What the pages show, shaped from the store's and the operations' answers; and the "try it" forms,
whose fields become the same request body the API would read (validated by the same schema)."""
import json
import math
from dataclasses import dataclass

from .. import schemas
from ..api import load_body
from ..errors import NotFound, ValidationFailed

def percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def first_reply(case: dict | None) -> str | None:
    attempts = (case or {}).get("attempts") or []
    return attempts[0].get("reply") if attempts and isinstance(attempts[0], dict) else None


def evaluation_series(evaluations: list[dict]) -> list[dict]:
    """One series per numeric result key of a name and metric (f1; rouge1, rouge2, ...), each point
    with its interval where the evaluation was recorded with one."""
    keys = []
    for evaluation in evaluations:
        for key, value in (evaluation["result"] or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in keys:
                keys.append(key)
    series = []
    for key in keys:
        points = []
        for evaluation in evaluations:
            value = (evaluation["result"] or {}).get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                continue
            interval = (evaluation.get("confidence_intervals") or {}).get(key)
            points.append({"value": value, "when": evaluation["recorded_at"], "evaluation": evaluation,
                           "interval": (interval["low"], interval["high"]) if interval else None,
                           "title": f"{key} = {value:.4g} on {evaluation['recorded_at']}"})
        series.append({"key": key, "points": points, "newest": points[-1] if points else None})
    return series


def pretty(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


# -- try it ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text (one line), paragraph, lines (an item per line), list (comma-separated), integer, number
    default: str = ""
    help: str = ""


@dataclass(frozen=True)
class TryForm:
    name: str
    title: str
    operation: str
    capability: str
    schema: object
    fields: tuple

    @property
    def field_names(self) -> list[str]:
        return ["model"] + [field.name for field in self.fields]

    def defaults(self) -> dict:
        return {"model": "", **{field.name: field.default for field in self.fields}}

    def body(self, values: dict) -> dict:
        """The JSON body these form values stand for; a field left empty is left out."""
        body, problems = {}, {}
        if values.get("model", "").strip():
            body["model"] = values["model"].strip()
        for field in self.fields:
            raw = values.get(field.name, "")
            if not raw.strip():
                continue
            try:
                body[field.name] = _read(field, raw)
            except ValueError as exc:
                problems[field.name] = [str(exc)]
        if problems:
            raise ValidationFailed(f"invalid fields: {', '.join(sorted(problems))}", errors=problems)
        if self.name == "similarity":
            body = {key: value for key, value in body.items() if key not in ("a", "b")} | {
                "pairs": [[body.get("a", ""), body.get("b", "")]]}
        return body


def _read(field: Field, raw: str):
    if field.kind == "lines":
        return [line for line in raw.splitlines() if line.strip()]
    if field.kind == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    if field.kind == "integer":
        if not raw.strip().lstrip("-").isdigit():
            raise ValueError("A whole number.")
        return int(raw)
    if field.kind == "number":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("A number.") from None
        if not math.isfinite(value):
            raise ValueError("A finite number.")
        return value
    return raw


ENDPOINTS = {form.name: form for form in [
    TryForm("classify", "Classify", "classify", "classify", schemas.classify_schema, (
        Field("inputs", "Texts, one per line", "lines", "I loved this film.\nThe service was slow and rude."),
        Field("candidate_labels", "Candidate labels, comma-separated (zero-shot on a causal LM)", "list",
              help="Leave empty for a classifier with fixed labels."),
    )),
    TryForm("perplexity", "Perplexity", "perplexity", "perplexity", schemas.perplexity_schema, (
        Field("inputs", "Texts, one per line", "lines", "The cat sat on the mat."),
    )),
    TryForm("similarity", "Similarity", "similarity", "similarity", schemas.similarity_schema, (
        Field("a", "First text", "text", "A man is playing a guitar."),
        Field("b", "Second text", "text", "Someone plays an instrument."),
    )),
    TryForm("generate", "Generate", "generate", "generate", schemas.generate_schema, (
        Field("prompt", "Prompt", "text", "Write a haiku about testing."),
        Field("max_new_tokens", "Most new tokens", "integer", "32"),
        Field("temperature", "Temperature (0: greedy)", "number", "0"),
        Field("seed", "Seed (for sampling)", "integer"),
    )),
    TryForm("qa", "Question answering", "qa", "qa", schemas.qa_schema, (
        Field("question", "Question", "text", "When will the park open?"),
        Field("context", "Context", "paragraph",
              "The mayor said the riverside park would open in June, after a year of work."),
    )),
    TryForm("ner", "Named entities", "ner", "ner", schemas.ner_schema, (
        Field("inputs", "Texts, one per line", "lines", "Paul lives in Madrid and works for Acme."),
    )),
]}


def unknown_endpoint(name: str) -> NotFound:
    return NotFound(f"no form for {name!r}; forms: {', '.join(ENDPOINTS)}")


def load(form: TryForm, body: dict) -> dict:
    """The body through the endpoint's own schema, as the API reads it."""
    return load_body(form.schema, body)
