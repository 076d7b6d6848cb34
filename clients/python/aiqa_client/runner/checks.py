"""Checks on one reply: text checks run here, scored checks ask the aiqa scoring service.

Each check is one key of a mapping in a case's `expect` list:
    contains / not_contains: TEXT or [TEXT, ...]      (case-insensitive; all must hold)
    regex: PATTERN                                    (re.search; add (?i) for case-insensitive)
    equals: TEXT                                      (after stripping surrounding whitespace)
    similarity: {reference, min, model?}              (cosine of embeddings, /v1/similarity)
    rouge: {reference, min, key?: rougeL}             (/v1/metrics/rouge: F-measure, 0..1)
    bleu: {reference: TEXT or [TEXT, ...], min}       (/v1/metrics/bleu: sacreBLEU, 0..100)
    label: {expected, candidate_labels?, model?, hypothesis_template?, min_score?}   (/v1/classify)
    perplexity: {max, model?}                         (/v1/perplexity)
"""
import re
from dataclasses import dataclass

from .base import Spec, SuiteError


@dataclass
class Check:
    name: str
    params: dict

    @property
    def uses_service(self) -> bool:
        return self.name in SCORED

    def evaluate(self, reply: str, ctx) -> tuple[bool, str, dict]:
        """(held, why, numbers seen)."""
        return EVALUATORS[self.name](reply, self.params, ctx)


def _texts(value, where) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise SuiteError(f"{where}: must be a non-empty text or a list of texts")
    return texts


def _text(value, where) -> str:
    if not isinstance(value, str):
        raise SuiteError(f"{where}: must be a text")
    return value


def _pattern(value, where) -> re.Pattern:
    if not isinstance(value, str):
        raise SuiteError(f"{where}: must be a regular expression (text)")
    try:
        return re.compile(value)
    except re.error as exc:
        raise SuiteError(f"{where}: invalid regular expression: {exc}") from None


def _scored(keys: dict, bound: str):
    """A parser for a scored check: `bound` (min or max) is required, `keys` maps optional key -> type."""
    def parse(value, where):
        spec = Spec(value, where)
        params = {bound: spec.get(bound, float, required=True)}
        for key, (kind, required) in keys.items():
            params[key] = spec.get(key, kind, required=required)
        spec.done()
        return params
    return parse


PARSERS = {
    "contains": lambda v, w: {"texts": _texts(v, w)},
    "not_contains": lambda v, w: {"texts": _texts(v, w)},
    "regex": lambda v, w: {"pattern": _pattern(v, w)},
    "equals": lambda v, w: {"text": _text(v, w)},
    "similarity": _scored({"reference": (str, True), "model": (str, False)}, "min"),
    "rouge": _scored({"reference": (str, True), "key": (str, False)}, "min"),
    "bleu": _scored({"reference": ((str, list), True)}, "min"),
    "label": _scored({"expected": (str, True), "candidate_labels": (list, False), "model": (str, False),
                      "hypothesis_template": (str, False)}, "min_score"),
    "perplexity": _scored({"model": (str, False)}, "max"),
}
SCORED = frozenset({"similarity", "rouge", "bleu", "label", "perplexity"})


def parse_check(raw, where: str) -> Check:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise SuiteError(f"{where}: each check is a mapping with one key, one of {', '.join(PARSERS)}")
    (name, value), = raw.items()
    if name not in PARSERS:
        raise SuiteError(f"{where}: unknown check {name!r}; known: {', '.join(PARSERS)}")
    if name == "label" and isinstance(value, dict):
        value = {"min_score": 0.0, **value}
    return Check(name, PARSERS[name](value, f"{where}.{name}"))


def _contains(reply, params, ctx):
    missing = [t for t in params["texts"] if t.casefold() not in reply.casefold()]
    return not missing, f"reply lacks {missing}" if missing else "contains all", {}


def _not_contains(reply, params, ctx):
    found = [t for t in params["texts"] if t.casefold() in reply.casefold()]
    return not found, f"reply contains {found}" if found else "contains none", {}


def _regex(reply, params, ctx):
    held = params["pattern"].search(reply) is not None
    return held, f"/{params['pattern'].pattern}/ {'matches' if held else 'does not match'}", {}


def _equals(reply, params, ctx):
    held = reply.strip() == params["text"].strip()
    return held, "equal" if held else f"reply is not {params['text']!r}", {}


def _at_least(name, value, bound):
    return value >= bound, f"{name} {value:.3f} {'>=' if value >= bound else '<'} {bound}", {name: value}


def _similarity(reply, params, ctx):
    score = ctx.scoring("similarity", lambda s: s.similarity([[reply, params["reference"]]],
                                                             model=params["model"]).scores[0])
    return _at_least("similarity", score, params["min"])


def _rouge(reply, params, ctx):
    key = params["key"] or "rougeL"
    result = ctx.metric("rouge", [reply], [params["reference"]])
    return _at_least(key, result.value(key), params["min"])


def _bleu(reply, params, ctx):
    result = ctx.metric("bleu", [reply], [params["reference"]])
    return _at_least("bleu", result.value("score"), params["min"])


def _label(reply, params, ctx):
    answer = ctx.scoring("classification", lambda s: s.classify(
        reply, model=params["model"], candidate_labels=params["candidate_labels"],
        hypothesis_template=params["hypothesis_template"]))
    best = answer.results[0][0]
    held = best.label == params["expected"] and best.score >= params["min_score"]
    return held, f"classified {best.label} ({best.score:.3f}); expected {params['expected']}", {
        "label": best.label, "label_score": best.score}


def _perplexity(reply, params, ctx):
    value = ctx.scoring("perplexity", lambda s: s.perplexity(reply, model=params["model"]).perplexities[0])
    held = value <= params["max"]
    return held, f"perplexity {value:.2f} {'<=' if held else '>'} {params['max']}", {"perplexity": value}


EVALUATORS = {"contains": _contains, "not_contains": _not_contains, "regex": _regex, "equals": _equals,
              "similarity": _similarity, "rouge": _rouge, "bleu": _bleu, "label": _label,
              "perplexity": _perplexity}
