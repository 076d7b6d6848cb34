"""Request schemas: module-level instances; limits come from the app's config at request time.

A field that is invalid raises a ValidationError (422, with per-field messages); a batch larger than
MAX_ITEMS raises PayloadTooLarge (413) so callers know to split the request rather than fix it.
"""
from flask import current_app
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from aiqa_client import comparison

from .errors import PayloadTooLarge
from .store import pages
from .validation import StrictBoolean, StrictFloat, StrictInteger, StrictSchema, stride_below_window


def _limit(name: str) -> int:
    return current_app.config[name]


def check_text(value, field_name="text"):
    if not isinstance(value, str):
        raise ValidationError("Not a valid string.")
    if not value.strip():
        raise ValidationError("Must not be empty or only whitespace.")
    if len(value) > _limit("MAX_TEXT_CHARS"):
        raise ValidationError(f"Longer than {_limit('MAX_TEXT_CHARS')} characters ({len(value)}).")
    return value


def check_batch(items: list, field_name: str):
    if len(items) > _limit("MAX_ITEMS"):
        raise PayloadTooLarge(
            f"{field_name} has {len(items)} items; the limit is {_limit('MAX_ITEMS')} per request",
            errors={field_name: [f"At most {_limit('MAX_ITEMS')} items."]})


class Text(fields.String):
    """A non-empty string within MAX_TEXT_CHARS."""

    def _deserialize(self, value, attr, data, **kwargs):
        return check_text(value)


class Texts(fields.Field):
    """A bare string or a non-empty list of strings; always deserialised to a list."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return [check_text(value)]
        if not isinstance(value, list):
            raise ValidationError("Must be a string or a list of strings.")
        if not value:
            raise ValidationError("Must not be an empty list.")
        check_batch(value, attr)
        errors, texts = {}, []
        for index, item in enumerate(value):
            try:
                texts.append(check_text(item))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return texts


class Pairs(fields.Field):
    """A non-empty list of [text, text] pairs."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or not value:
            raise ValidationError("Must be a non-empty list of [text, text] pairs.")
        check_batch(value, attr)
        errors, pairs = {}, []
        for index, pair in enumerate(value):
            if not isinstance(pair, list) or len(pair) != 2:
                errors[index] = ["Must be a list of exactly two strings."]
                continue
            try:
                pairs.append((check_text(pair[0]), check_text(pair[1])))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return pairs


class RequestSchema(StrictSchema):
    model = fields.String(validate=validate.Length(min=1, max=200))


class ClassifySchema(RequestSchema):
    inputs = Texts(required=True)
    candidate_labels = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(min=2, max=32))
    hypothesis_template = fields.String(validate=[
        validate.Length(min=2, max=500),
        validate.Regexp(r".*\{\}.*", error="Must contain {{}} where the label goes.")])
    top_k = StrictInteger(validate=validate.Range(min=1))

    @validates_schema
    def unique_labels(self, data, **kwargs):
        labels = data.get("candidate_labels")
        if labels and len(set(labels)) != len(labels):
            raise ValidationError("Labels must be unique.", "candidate_labels")


class PerplexitySchema(RequestSchema):
    inputs = Texts(required=True)
    max_length = StrictInteger(validate=validate.Range(min=2))
    stride = StrictInteger(validate=validate.Range(min=1))

    @validates_schema
    def stride_below_window(self, data, **kwargs):
        stride_below_window(data)


class MessageSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(["system", "user", "assistant"]))
    content = Text(required=True)


class GenerateSchema(RequestSchema):
    prompt = Text()
    messages = fields.List(fields.Nested(MessageSchema), validate=validate.Length(min=1, max=64))
    max_new_tokens = StrictInteger(load_default=64)
    temperature = StrictFloat(load_default=0.0, validate=validate.Range(min=0.0, max=2.0), allow_nan=False)
    top_p = StrictFloat(load_default=1.0, validate=validate.Range(min=0.0, max=1.0, min_inclusive=False),
                         allow_nan=False)
    seed = StrictInteger(validate=validate.Range(min=0, max=2**32 - 1))

    @validates_schema
    def one_source(self, data, **kwargs):
        if ("prompt" in data) == ("messages" in data):
            raise ValidationError("Give exactly one of prompt or messages.", "prompt")
        limit = _limit("MAX_NEW_TOKENS")
        if not 1 <= data["max_new_tokens"] <= limit:
            raise ValidationError(f"Must be between 1 and {limit}.", "max_new_tokens")


class SimilaritySchema(RequestSchema):
    pairs = Pairs(required=True)


classify_schema = ClassifySchema()
perplexity_schema = PerplexitySchema()
generate_schema = GenerateSchema()
similarity_schema = SimilaritySchema()


class Swaps(fields.Field):
    """"gender", or rows of interchangeable terms: one column per group, the same columns in every row."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "gender":
            return value
        if not isinstance(value, list) or not 1 <= len(value) <= 200:
            raise ValidationError('Must be "gender" or a list of 1 to 200 rows of terms.')
        errors = {index: message for index, row in enumerate(value) if (message := _swap_row_error(row))}
        if errors:
            raise ValidationError(errors)
        if len({len(row) for row in value}) != 1:
            raise ValidationError("Every row must have one term per group: the same number of terms.")
        return [[term.strip() for term in row] for row in value]


def _swap_row_error(row) -> list | None:
    if not isinstance(row, list) or not 2 <= len(row) <= 8:
        return ["Must be a list of 2 to 8 terms, one per group."]
    if not all(isinstance(t, str) and t.strip() and len(t) <= 100 for t in row):
        return ["Terms must be non-empty strings of at most 100 characters."]
    if len({t.strip().lower() for t in row}) != len(row):
        return ["Terms within a row must differ."]
    return None


class CounterfactualSchema(ClassifySchema):
    class Meta(StrictSchema.Meta):
        exclude = ("top_k",)

    swaps = Swaps(load_default="gender")
    label = fields.String(validate=validate.Length(min=1, max=200))
    permutations = StrictInteger(load_default=10_000, validate=validate.Range(min=99, max=100_000))
    seed = StrictInteger(load_default=0, validate=validate.Range(min=0, max=2**32 - 1))


counterfactual_schema = CounterfactualSchema()


class QAPairSchema(StrictSchema):
    question = Text(required=True)
    context = Text(required=True)


qa_pair_schema = QAPairSchema()


class QAPairs(fields.Field):
    """A non-empty list of {question, context} objects; deserialised to (question, context) pairs."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or not value:
            raise ValidationError("Must be a non-empty list of {question, context} objects.")
        check_batch(value, attr)
        errors, pairs = {}, []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                errors[index] = ["Must be an object with question and context."]
                continue
            try:
                loaded = qa_pair_schema.load(item)
                pairs.append((loaded["question"], loaded["context"]))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return pairs


class QASchema(RequestSchema):
    """question + context (each a string, or lists paired in order, or many questions on one
    context, as the transformers pipeline took them), or inputs: [{question, context}, ...]."""
    question = Texts()
    context = Texts()
    inputs = QAPairs()
    top_k = StrictInteger(load_default=1, validate=validate.Range(min=1, max=50))
    max_answer_len = StrictInteger(validate=validate.Range(min=1, max=512))
    handle_impossible_answer = StrictBoolean(load_default=False)

    @validates_schema
    def one_form(self, data, **kwargs):
        if ("inputs" in data) == ("question" in data or "context" in data):
            raise ValidationError("Give question and context, or inputs; not both.", "inputs")
        for name in ("question", "context"):
            if "inputs" not in data and name not in data:
                raise ValidationError("Missing data for required field.", name)
        questions, contexts = data.get("question", []), data.get("context", [])
        if len(contexts) > 1 and len(questions) != len(contexts):
            raise ValidationError(
                f"{len(questions)} questions for {len(contexts)} contexts: give one context, or one per question.",
                "context")

    @post_load
    def pairs(self, data, **kwargs):
        data["from_inputs"] = "inputs" in data  # where a model's complaint about one input is reported
        if "inputs" not in data:
            contexts = data["context"] * len(data["question"]) if len(data["context"]) == 1 else data["context"]
            data["inputs"] = list(zip(data.pop("question"), contexts))
            data.pop("context")
        return data


class NERSchema(RequestSchema):
    inputs = Texts(required=True)
    aggregation = fields.String(load_default="simple",
                                validate=validate.OneOf(["none", "simple", "first", "average", "max"]))
    word_labels = StrictBoolean(load_default=False)


qa_schema = QASchema()
ner_schema = NERSchema()


def _at_most(setting: str):
    """A validator for an upper bound read from the app's config at request time."""
    def check(value):
        if value > _limit(setting):
            raise ValidationError(f"Must be at most {_limit(setting)}.")
    return check


def _image_side(value):
    if value % 8:
        raise ValidationError("Must be a multiple of 8.")
    _at_most("MAX_IMAGE_SIZE")(value)


class ImageSchema(RequestSchema):
    """Fields left out take the model's defaults (GET /v1/models lists them)."""
    prompt = Text(required=True)
    negative_prompt = Text()
    width = StrictInteger(validate=[validate.Range(min=64), _image_side])
    height = StrictInteger(validate=[validate.Range(min=64), _image_side])
    steps = StrictInteger(validate=[validate.Range(min=1), _at_most("MAX_IMAGE_STEPS")])
    guidance_scale = StrictFloat(validate=validate.Range(min=0.0, max=50.0), allow_nan=False)
    seed = StrictInteger(validate=validate.Range(min=0, max=2**32 - 1))
    num_images = StrictInteger(load_default=1, validate=[validate.Range(min=1), _at_most("MAX_IMAGES")])


image_schema = ImageSchema()


# -- runs and evaluations: query strings ---------------------------------------------------------
class QuerySchema(StrictSchema):
    """Query parameters; times carry their zone and are kept as naive UTC, as the store keeps them."""

    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=pages.MAX_LIMIT))
    cursor = fields.String(validate=validate.Length(min=1, max=200))

    @post_load
    def to_utc(self, data, **kwargs):
        for key in ("since", "until"):
            if key in data:
                data[key] = pages.as_stored(data[key])
        return data


class RunListQuery(QuerySchema):
    suite = fields.String(validate=validate.Length(min=1, max=200))
    target = fields.String(validate=validate.Length(min=1, max=700))


class EvaluationListQuery(QuerySchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    metric = fields.String(validate=validate.Length(min=1, max=100))
    kind = fields.String(validate=validate.OneOf(["metric", "compare", "fairness"]))


class CompareQuery(StrictSchema):
    baseline = fields.String(required=True, validate=validate.Length(min=1, max=64))
    alpha = fields.Float(load_default=comparison.ALPHA, allow_nan=False,
                         validate=validate.Range(min=0, max=0.5, min_inclusive=False))
    resamples = fields.Integer(load_default=comparison.RESAMPLES, validate=validate.Range(min=100, max=10_000))
    seed = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**32 - 1))
    # "true" or "false" only: a 0 or 1 in a query string is not read as a truth value
    unchanged = fields.Boolean(load_default=False, truthy={"true"}, falsy={"false"})


run_list_query = RunListQuery()
evaluation_list_query = EvaluationListQuery()
compare_query = CompareQuery()
