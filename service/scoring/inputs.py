"""Validate predictions and references before a metric sees them: every problem is a 422 that names
the field and the first offending index, or a 413 above the item limit; never a 500 from a library.

Checks run on the set of Python types in a list, or on its conversion to an array (one C-speed pass),
and only look for the offending index once something is wrong, so validating 100k items costs a few
milliseconds.
"""
import array
import itertools
import re
import sys

import numpy as np
from flask import current_app

from ..errors import PayloadTooLarge, ValidationFailed
from .specs import ANSWERS, LABELS, PROBABILITIES, SCORES, TAGS, TEXTS, VALUES

_TYPE_NAMES = {int: "integers", str: "strings"}
_PREFIX_TAG = re.compile(r"O|[BIES]-.+")
_SUFFIX_TAG = re.compile(r"O|.+-[BIES]")


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={field: [message]})


def _non_empty_list(values, field: str, what: str) -> list:
    if not isinstance(values, list):
        raise invalid(field, f"Must be a list of {what}.")
    if not values:
        raise invalid(field, "Must not be empty.")
    limit = current_app.config["MAX_METRIC_ITEMS"]
    if len(values) > limit:
        raise PayloadTooLarge(f"{field} has {len(values)} items; the limit is {limit} per request",
                              errors={field: [f"At most {limit} items."]})
    return values


def _first(values, predicate) -> int:
    return next(i for i, value in enumerate(values) if predicate(value))


def _describe(value) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"[:80]


def labels(values, field: str) -> tuple[np.ndarray, type]:
    """A list of integer labels or of string labels, as an array, and which of the two it is."""
    _non_empty_list(values, field, "labels")
    types = set(map(type, values))
    for kind in (int, str):
        if types == {kind}:
            return np.asarray(values), kind
    bad = types - {int, str}
    if bad:
        index = _first(values, lambda v: type(v) in bad)
        raise invalid(field, f"Item {index} is {_describe(values[index])}; labels must be integers or strings.")
    index = _first(values, lambda v: isinstance(v, str))
    raise invalid(field, f"Mixes integers and strings (item {index} is {values[index]!r}); use one label type.")


def numbers(values, field: str) -> np.ndarray:
    """A list of real numbers (JSON integers or floats; true and false are not numbers), as float64.

    One C pass converts: array('d') takes ints, floats and bools and refuses every other JSON value.
    A bool can only have become 0.0 or 1.0, so only the items equal to those are looked at again."""
    _non_empty_list(values, field, "numbers")
    try:
        converted = np.frombuffer(array.array("d", values), dtype=np.float64)
    except (TypeError, OverflowError):
        pass  # a value that is no number, or an int beyond a float: found by index below
    else:
        maybe_bools = np.flatnonzero((converted == 0.0) | (converted == 1.0)).tolist()
        if not any(type(values[i]) is bool for i in maybe_bools):
            return converted
    bad = set(map(type, values)) - {int, float}
    if not bad:
        index = _first(values, lambda v: abs(v) > sys.float_info.max)
        raise invalid(field, f"Item {index} is out of range for a 64-bit float.")
    index = _first(values, lambda v: type(v) in bad)
    raise invalid(field, f"Item {index} is {_describe(values[index])}; must be a number.")


def probabilities(values, field: str) -> np.ndarray:
    """Numbers in [0, 1]."""
    array = numbers(values, field)
    outside = (array < 0) | (array > 1)
    if outside.any():
        index = int(np.argmax(outside))
        raise invalid(field, f"Item {index} is {values[index]!r}; a probability is between 0 and 1.")
    return array


def score_rows(values, field: str) -> np.ndarray:
    """Scores: a number per item, or a row of numbers per item (rows of one width, two or more)."""
    _non_empty_list(values, field, "scores")
    if not isinstance(values[0], list):
        return numbers(values, field)
    width = len(values[0])
    for index, row in enumerate(values):
        if not isinstance(row, list) or len(row) != width or width < 2:
            raise invalid(field, f"Item {index} must be a row of {max(width, 2)} or more numbers, like item 0 "
                                 "(a row per item for multiclass and multilabel, a number per item for binary).")
    flat = list(itertools.chain.from_iterable(values))
    if set(map(type, flat)) - {int, float}:
        index = _first(values, lambda row: any(type(v) not in (int, float) for v in row))
        raise invalid(field, f"Item {index} holds something other than numbers.")
    return np.asarray(values, dtype=np.float64)


def labels_or_rows(values, field: str) -> np.ndarray:
    """Labels (binary, multiclass) or rows of 0/1 integers (multilabel)."""
    if isinstance(values, list) and values and isinstance(values[0], list):
        width = len(values[0])
        for index, row in enumerate(values):
            if not (isinstance(row, list) and len(row) == width and all(type(v) is int and v in (0, 1) for v in row)):
                raise invalid(field, f"Item {index} must be a row of {width} zeros and ones, like item 0.")
        return np.asarray(values, dtype=np.int64)
    return labels(values, field)[0]


def roc_inputs(params: dict, inputs: dict) -> None:
    """What the scores' and references' shapes say the outcome is, and what that needs."""
    references = inputs["references"]
    for field, scores in inputs.items():
        if field == "references":
            continue
        if references.ndim == 2:  # multilabel
            if scores.ndim != 2 or scores.shape[1] != references.shape[1]:
                raise invalid(field, f"Multilabel references have {references.shape[1]} columns: give a row of as "
                                     "many scores per item.")
        elif scores.ndim == 1:  # binary
            classes = np.unique(references)
            if len(classes) != 2:
                raise invalid("references", f"{len(classes)} different label(s) for one score per item: binary ROC AUC "
                                            "needs both classes (several classes take a row of probabilities per item).")
        else:  # multiclass
            if params.get("multi_class", "raise") == "raise":
                raise ValidationFailed("multiclass ROC AUC needs params.multi_class: ovr or ovo",
                                       errors={"params": {"multi_class": ["ovr or ovo, for a row of scores per item."]}})
            sums = scores.sum(axis=1)
            off = ~np.isclose(sums, 1.0)
            if off.any():
                index = int(np.argmax(off))
                raise invalid(field, f"Item {index}'s probabilities sum to {sums[index]:g}; multiclass ROC AUC takes "
                                     "rows that sum to 1.")


def binary_references(params: dict, references: np.ndarray) -> None:
    """Labels of a binary outcome: at most two classes, and a positive class of their type (named for
    string labels, as scikit-learn asks)."""
    classes = np.unique(references)
    if len(classes) > 2:
        raise invalid("references", f"{len(classes)} different labels; a binary outcome has at most two.")
    kind = label_type(references)
    if "pos_label" not in params and kind is str:
        raise ValidationFailed("name the positive class: params.pos_label (the labels are strings)",
                               errors={"params": {"pos_label": ["Required for string labels."]}})
    check_label_params(params, kind, ("pos_label",))


def _an_object(value, field: str, index: int, keys: set, optional: set = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise invalid(field, f"Item {index} is {_describe(value)}; must be an object with {', '.join(sorted(keys))}.")
    missing, unknown = keys - value.keys(), value.keys() - keys - optional
    if missing or unknown:
        said = [f"misses {', '.join(sorted(missing))}" if missing else "",
                f"has unknown {', '.join(sorted(unknown))}" if unknown else ""]
        raise invalid(field, f"Item {index} {' and '.join(filter(None, said))}.")
    if not isinstance(value["id"], str) or not value["id"]:
        raise invalid(field, f"Item {index}: id must be a non-empty string.")
    return value


def _unique_ids(values: list, field: str) -> dict:
    seen = {}
    for index, value in enumerate(values):
        if value["id"] in seen:
            raise invalid(field, f"Items {seen[value['id']]} and {index} have the same id {value['id']!r}.")
        seen[value["id"]] = index
    return seen


def answers(values, field: str, no_answer: bool) -> list[dict]:
    """SQuAD predictions: {id, prediction_text} and no_answer_probability, 0 to 1 (required by squad_v2;
    squad checks and ignores it, so one request can score v2 answers with both)."""
    keys = {"id", "prediction_text"} | ({"no_answer_probability"} if no_answer else set())
    for index, value in enumerate(_non_empty_list(values, field, "answers")):
        _an_object(value, field, index, keys, optional={"no_answer_probability"})
        if not isinstance(value["prediction_text"], str):
            raise invalid(field, f"Item {index}: prediction_text must be a string.")
        probability = value.get("no_answer_probability", 0.0)
        if type(probability) not in (int, float) or not 0 <= probability <= 1:
            raise invalid(field, f"Item {index}: no_answer_probability must be a number from 0 to 1.")
    _unique_ids(values, field)
    return values


def questions(values, field: str, no_answer: bool) -> list[dict]:
    """SQuAD references: {id, answers: {text: [...], answer_start: [...]}}; squad (v1) needs an answer."""
    for index, value in enumerate(_non_empty_list(values, field, "questions")):
        _an_object(value, field, index, {"id", "answers"})
        gold = value["answers"]
        if not isinstance(gold, dict) or set(gold) != {"text", "answer_start"}:
            raise invalid(field, f"Item {index}: answers must be an object with text and answer_start lists.")
        texts_, starts = gold["text"], gold["answer_start"]
        if not (isinstance(texts_, list) and isinstance(starts, list) and len(texts_) == len(starts)
                and all(isinstance(t, str) for t in texts_) and all(type(s) is int for s in starts)):
            raise invalid(field, f"Item {index}: answers.text (strings) and answers.answer_start (integers) "
                                 "must be lists of the same length.")
        if not texts_ and not no_answer:
            raise invalid(field, f"Item {index} has no gold answer; squad needs one (squad_v2 takes none).")
    _unique_ids(values, field)
    return values


def paired_by_id(prepared: dict) -> None:
    """Every question answered, every answer for a question: ids pair predictions with references."""
    wanted = {value["id"] for value in prepared["references"]}
    for field, values in prepared.items():
        if field == "references":
            continue
        given = {value["id"] for value in values}
        for ids, problem in ((wanted - given, "no answer for {} question(s) of references"),
                             (given - wanted, "{} answer(s) to no question of references")):
            if ids:
                shown = ", ".join(repr(i) for i in sorted(ids)[:5]) + (" ..." if len(ids) > 5 else "")
                raise invalid(field, f"{problem.format(len(ids))}: ids {shown}.")


def varying(spec, prepared: dict) -> None:
    """The fields a metric is undefined on when constant (a correlation; R squared's references);
    predictions_a and predictions_b of a comparison are predictions."""
    for field, column in prepared.items():
        if ("predictions" if field.startswith("predictions") else field) not in spec.varying:
            continue
        if len(column) < 2 or np.all(column == column[0]):
            what = "one item" if len(column) < 2 else f"every item is {column[0]:g}"
            raise invalid(field, f"{spec.name} is undefined here: {what}; it needs two different values at least.")


def same_label_type(types: dict) -> type:
    if len(set(types.values())) > 1:
        described = " but ".join(f"{field} are {_TYPE_NAMES[kind]}" for field, kind in types.items())
        raise ValidationFailed(f"mixed label types: {described}",
                               errors={field: [f"Labels are {_TYPE_NAMES[kind]}."] for field, kind in types.items()})
    return next(iter(types.values()))


def same_length(columns: dict) -> int:
    sizes = {field: len(values) for field, values in columns.items()}
    if len(set(sizes.values())) > 1:
        described = " but ".join(f"{field} has {size} items" for field, size in sizes.items())
        raise ValidationFailed(f"{described}; they must have the same length",
                               errors={field: [f"{size} items; the other fields have a different number."]
                                       for field, size in sizes.items()})
    return next(iter(sizes.values()))


def texts(values, field: str) -> list[str]:
    _non_empty_list(values, field, "strings")
    if set(map(type, values)) != {str}:
        index = _first(values, lambda v: not isinstance(v, str))
        raise invalid(field, f"Item {index} is {_describe(values[index])}; must be a string.")
    return values


def text_references(values, field: str) -> list:
    """One reference string, or a non-empty list of them, per item."""
    _non_empty_list(values, field, "reference texts")
    for index, refs in enumerate(values):
        if isinstance(refs, str):
            continue
        if not isinstance(refs, list) or not refs or set(map(type, refs)) != {str}:
            raise invalid(field, f"Item {index} must be a string or a non-empty list of strings.")
    return values


def model_texts(values, field: str) -> list[str]:
    """Texts a model reads: non-blank, within MAX_TEXT_CHARS, at most MAX_ITEMS of them."""
    texts(values, field)
    config = current_app.config
    if len(values) > config["MAX_ITEMS"]:
        raise PayloadTooLarge(f"{field} has {len(values)} items; the limit is {config['MAX_ITEMS']} for a "
                              "model-backed metric", errors={field: [f"At most {config['MAX_ITEMS']} items."]})
    for index, text in enumerate(values):
        if not text.strip() or len(text) > config["MAX_TEXT_CHARS"]:
            raise invalid(field, f"Item {index} must be non-blank and at most {config['MAX_TEXT_CHARS']} characters.")
    return values


def tag_sentences(values, field: str, suffix: bool = False) -> list[list[str]]:
    _non_empty_list(values, field, "sentences")
    for index, sentence in enumerate(values):
        if not isinstance(sentence, list) or not sentence:
            raise invalid(field, f"Sentence {index} must be a non-empty list of tags.")
    if set(map(type, itertools.chain.from_iterable(values))) != {str}:
        index = _first(values, lambda sentence: any(not isinstance(tag, str) for tag in sentence))
        raise invalid(field, f"Sentence {index} has a tag that is not a string.")
    pattern = _SUFFIX_TAG if suffix else _PREFIX_TAG
    bad = {tag for tag in set(itertools.chain.from_iterable(values)) if not pattern.fullmatch(tag)}
    if bad:
        index = _first(values, lambda sentence: any(tag in bad for tag in sentence))
        form = "TYPE-B, TYPE-I, TYPE-E, TYPE-S" if suffix else "B-TYPE, I-TYPE, E-TYPE, S-TYPE"
        tag = next(tag for tag in values[index] if tag in bad)
        raise invalid(field, f"Sentence {index} has a tag that is not O or {form}: {tag!r}.")
    total = sum(map(len, values))
    if total > current_app.config["MAX_METRIC_ITEMS"]:
        raise PayloadTooLarge(f"{field} has {total} tags; the limit is {current_app.config['MAX_METRIC_ITEMS']}",
                              errors={field: ["Too many tags."]})
    return values


def same_sentence_lengths(predictions, references, fields=("predictions", "references")):
    for index, (hyp, ref) in enumerate(zip(predictions, references)):
        if len(hyp) != len(ref):
            message = f"Sentence {index} has {len(hyp)} predicted tags but {len(ref)} reference tags."
            raise ValidationFailed(message, errors={fields[0]: [message], fields[1]: [message]})


def prepare(spec, columns: dict, params: dict) -> dict:
    """Validate the input columns ({field: raw value}) for `spec`; the values `_compute` receives."""
    if spec.kind == LABELS:
        checked = {field: labels(values, field) for field, values in columns.items()}
        same_label_type({field: kind for field, (_, kind) in checked.items()})
        prepared = {field: array for field, (array, _) in checked.items()}
    elif spec.kind == TEXTS:
        prepared = {field: text_references(values, field) if field == "references" and spec.multi_reference
                    else texts(values, field) for field, values in columns.items()}
    elif spec.kind == TAGS:
        prepared = {field: tag_sentences(values, field, params.get("suffix", False))
                    for field, values in columns.items()}
    elif spec.kind == VALUES:
        prepared = {field: numbers(values, field) for field, values in columns.items()}
    elif spec.kind == ANSWERS:
        no_answer = spec.name == "squad_v2"
        prepared = {field: questions(values, field, no_answer) if field == "references"
                    else answers(values, field, no_answer) for field, values in columns.items()}
        paired_by_id(prepared)
    elif spec.kind == SCORES:
        prepared = {field: labels_or_rows(values, field) if field == "references" else score_rows(values, field)
                    for field, values in columns.items()}
    elif spec.kind == PROBABILITIES:
        prepared = {field: labels(values, field)[0] if field == "references" else probabilities(values, field)
                    for field, values in columns.items()}
    else:
        prepared = {field: model_texts(values, field) for field, values in columns.items()}
    same_length(prepared)
    if spec.kind == TAGS:
        for field in [f for f in prepared if f != "references"]:
            same_sentence_lengths(prepared[field], prepared["references"], (field, "references"))
    return prepared


def label_type(array: np.ndarray) -> type:
    return str if array.dtype.kind == "U" else int


def check_label_params(params: dict, kind: type, label_fields=("labels", "pos_label")) -> None:
    """Labels named in params must be of the data's label type, or scikit-learn compares apples to pears."""
    for field in label_fields:
        values = params.get(field)
        values = values if isinstance(values, list) else [] if values is None else [values]
        if any(not isinstance(value, kind) for value in values):
            raise ValidationFailed(f"params.{field} must be {_TYPE_NAMES[kind]}, like the labels",
                                   errors={"params": {field: [f"Must be {_TYPE_NAMES[kind]}, like the labels."]}})
