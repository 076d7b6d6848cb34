"""Each metric's parameters as a marshmallow schema: unknown names and invalid values become a 422.

A parameter left out is not filled in here: the module's `_compute` default applies, and the catalog
reads those defaults from its signature, so there is one source for each default.
"""
import re

from marshmallow import ValidationError, fields, validate, validates_schema

from ..validation import StrictBoolean, StrictFloat, StrictInteger, StrictSchema, stride_below_window


class Label(fields.Field):
    """A class label: an integer or a string (JSON true/false are not labels)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError("Must be an integer or a string.")
        return value


def _compiles(pattern: str):
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"Not a valid regular expression: {exc}.") from None


def _described(field, description: str):
    field.metadata["description"] = description
    return field


class Params(StrictSchema):
    """A metric's parameters."""


class NoParams(Params):
    pass


class SquadV2Params(Params):
    no_answer_threshold = _described(
        StrictFloat(allow_nan=False, validate=validate.Range(min=0, max=1)),
        "Abstain (score as no answer) where no_answer_probability is above this.")


class TerParams(Params):
    normalized = _described(StrictBoolean(), "Normalise and tokenize punctuation first.")
    ignore_punct = _described(StrictBoolean(), "Remove punctuation first.")
    support_zh_ja_chars = _described(StrictBoolean(), "Split Chinese and Japanese characters when normalizing.")
    case_sensitive = _described(StrictBoolean(), "Keep case (TER lowercases by default).")


class GoogleBleuParams(Params):
    min_len = _described(StrictInteger(validate=validate.Range(min=1, max=10)), "The shortest n-gram.")
    max_len = _described(StrictInteger(validate=validate.Range(min=1, max=10)), "The longest n-gram.")

    @validates_schema
    def ordered(self, data, **kwargs):
        if data.get("min_len", 1) > data.get("max_len", 4):
            raise ValidationError("Must not be smaller than min_len (default 1).", "max_len")


class BrierParams(Params):
    pos_label = _described(Label(), "The positive class (required for string labels).")


class MseParams(Params):
    squared = _described(StrictBoolean(), "True: the mean squared error; false: its square root (RMSE).")


class CorrelationParams(Params):
    return_pvalue = _described(StrictBoolean(), "Also return the two-sided p-value of no correlation.")


class AccuracyParams(Params):
    normalize = _described(StrictBoolean(), "True: the fraction correct; false: the number correct.")


class LabelledParams(Params):
    labels = _described(fields.List(Label(), validate=validate.Length(min=1, max=1000)),
                        "The labels to include, in this order.")

    @validates_schema
    def unique_labels(self, data, **kwargs):
        labels = data.get("labels")
        if labels and len(set(labels)) != len(labels):
            raise ValidationError("Labels must be unique.", "labels")


class AveragedParams(LabelledParams):
    average = _described(fields.String(validate=validate.OneOf(["binary", "micro", "macro", "weighted"])),
                         "binary scores the pos_label class; micro, macro, weighted combine every label.")
    pos_label = _described(Label(), "The positive class when average is binary.")
    zero_division = _described(StrictInteger(validate=validate.OneOf([0, 1])),
                               "The value of a score whose denominator is zero.")

    @validates_schema
    def pos_label_only_when_binary(self, data, **kwargs):
        if "pos_label" in data and data.get("average", "binary") != "binary":
            raise ValidationError("Applies only when average is binary; use labels to choose classes.", "pos_label")


class ConfusionMatrixParams(LabelledParams):
    normalize = _described(fields.String(validate=validate.OneOf(["true", "pred", "all"])),
                           "Divide by the row (true), column (pred) or grand (all) total.")


class ExactMatchParams(Params):
    regexes_to_ignore = _described(
        fields.List(fields.String(validate=[validate.Length(min=1, max=200), _compiles]),
                    validate=validate.Length(max=10)),
        "Regular expressions whose matches are removed before comparing.")
    ignore_case = _described(StrictBoolean(), "Compare lowercased texts.")
    ignore_punctuation = _described(StrictBoolean(), "Remove ASCII punctuation.")
    ignore_numbers = _described(StrictBoolean(), "Remove the digits 0-9.")
    ignore_whitespace = _described(StrictBoolean(), "Collapse runs of whitespace to one space; trim the ends.")


class BleuParams(Params):
    smooth_method = _described(fields.String(validate=validate.OneOf(["none", "floor", "add-k", "exp"])),
                               "sacrebleu's smoothing.")
    smooth_value = _described(StrictFloat(validate=validate.Range(min=0), allow_nan=False),
                              "The value for floor and add-k smoothing.")
    force = _described(StrictBoolean(), "Do not warn about input that looks tokenized.")
    lowercase = _described(StrictBoolean(), "Compare lowercased texts.")
    tokenize = _described(fields.String(validate=validate.OneOf(["13a", "none", "intl", "char", "zh"])),
                          "sacrebleu's tokenizer (13a when left out).")
    use_effective_order = _described(StrictBoolean(), "Ignore n-gram orders without matches.")


class ChrfParams(Params):
    char_order = _described(StrictInteger(validate=validate.Range(min=1, max=10)), "Longest character n-gram.")
    word_order = _described(StrictInteger(validate=validate.Range(min=0, max=4)),
                            "Longest word n-gram; 2 gives chrF++.")
    beta = _described(StrictInteger(validate=validate.Range(min=1, max=10)),
                      "Recall is this many times as important as precision.")
    lowercase = _described(StrictBoolean(), "Compare lowercased texts.")
    whitespace = _described(StrictBoolean(), "Keep whitespace in character n-grams.")
    eps_smoothing = _described(StrictBoolean(), "Smooth zero matches as sacrebleu 1.x did.")


class RougeParams(Params):
    rouge_types = _described(
        fields.List(fields.String(validate=validate.OneOf(["rouge1", "rouge2", "rougeL", "rougeLsum"])),
                    validate=validate.Length(min=1, max=4)),
        "Which of rouge1, rouge2, rougeL, rougeLsum.")
    use_stemmer = _described(StrictBoolean(), "Porter-stem tokens before matching.")
    use_aggregator = _described(StrictBoolean(), "The mean over predictions; false: one value per prediction.")


class SeqevalParams(Params):
    scheme = _described(fields.String(validate=validate.OneOf(["IOB1", "IOB2", "IOBES"])),
                        "The tagging scheme; used with mode strict.")
    mode = _described(fields.String(validate=validate.OneOf(["strict"])),
                      "strict: score only entities well-formed in scheme; left out: conlleval's lenient chunking.")
    suffix = _described(StrictBoolean(), "The type comes before the prefix (PER-B).")
    zero_division = _described(StrictInteger(validate=validate.OneOf([0, 1])),
                               "The value of a score whose denominator is zero.")

    @validates_schema
    def strict_needs_scheme(self, data, **kwargs):
        if data.get("mode") == "strict" and "scheme" not in data:
            raise ValidationError("mode strict needs a scheme.", "scheme")


class ModelParams(Params):
    model = _described(fields.String(validate=validate.Length(min=1, max=200)),
                       "The registry model to use; the profile's default when left out.")


class PerplexityParams(ModelParams):
    max_length = _described(StrictInteger(validate=validate.Range(min=2)), "Window in tokens.")
    stride = _described(StrictInteger(validate=validate.Range(min=1)), "Step between windows in tokens.")

    @validates_schema
    def stride_below_window(self, data, **kwargs):
        stride_below_window(data)


class RocAucParams(LabelledParams):
    average = _described(fields.String(allow_none=True,
                                       validate=validate.OneOf(["macro", "weighted", "micro", "samples"])),
                         "macro, weighted; micro and samples for multilabel; null: one score per class (multilabel).")
    max_fpr = _described(StrictFloat(allow_nan=False, validate=validate.Range(min=0, max=1, min_inclusive=False)),
                         "The standardized partial AUC up to this false positive rate (binary).")
    multi_class = _described(fields.String(validate=validate.OneOf(["raise", "ovr", "ovo"])),
                             "Multiclass: ovr (one-vs-rest) or ovo (one-vs-one); required there.")
