"""What the service needs to know about each metric module beyond evaluate's format.

kind: what predictions and references are (and so how they are validated).
primary: the result key that compare reports by default.
resampling: how the bootstrap redraws items — "weighted" (label metrics: redraw the counts of each
(reference, prediction) cell and call `_compute` with those counts as sample weights, so every
replicate is scikit-learn's own number at a cost independent of the item count), "additive" (the
module's `_item_statistics` per item and `_score_statistics` of their sums), "mean" (the mean of a
per-item list in the result), "recompute" (the module's `_compute` on every redrawn sample: for
statistics of ranks, which no per-item sum gives), or None (no scalar to resample).
rate_of_references: an error rate over the references' words or characters, which the references
must hold some of (all blank: a 422, not a division by zero).
varying: the input fields that must hold two different values at least (a correlation, or R squared's
references, is undefined on a constant column): a 422 that says so, never a NaN in the answer.
min_items: the fewest items the metric means something on (a correlation of two items is always
+-1, and its p-value undefined).
capability: the registry capability of the warm model a model-backed metric needs.
"""
from dataclasses import dataclass

from marshmallow import Schema

from . import params as p

LABELS, TEXTS, TAGS, MODEL_TEXTS, VALUES = "labels", "texts", "tags", "model-texts", "values"
PROBABILITIES = "probabilities"  # predictions: a probability of the positive class; references: labels
SCORES = "scores"  # roc_auc: prediction_scores (a score, or a row per class) against labels (or 0/1 rows)
ANSWERS = "answers"  # SQuAD: predictions {id, prediction_text[, no_answer_probability]}, references {id, answers}


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str
    params: Schema
    primary: str
    resampling: str | None
    capability: str | None = None
    references: bool = True
    per_item: str | None = None  # for resampling "mean": the result key of the per-item values
    multi_reference: bool = False  # references may be a list of texts per prediction
    varying: tuple = ()
    rate_of_references: bool = False
    min_items: int = 1
    input_field: str = "predictions"  # what a request calls the scored column (evaluate's name)

    @property
    def input_descriptions(self) -> dict:
        predictions, references = INPUT_DESCRIPTIONS[self.kind]
        if self.multi_reference:
            references = "A list with one reference text, or a non-empty list of reference texts, per prediction."
        return {self.input_field: predictions, **({"references": references} if self.references else {})}

    @property
    def content_types(self) -> list[str]:
        return ["application/json", "text/csv"] if self.kind == TAGS else ["application/json"]


def _labels(name, params, primary=None, resampling="weighted"):
    return MetricSpec(name, LABELS, params, primary or name, resampling)


SPECS = {spec.name: spec for spec in [
    _labels("accuracy", p.AccuracyParams()),
    _labels("precision", p.AveragedParams()),
    _labels("recall", p.AveragedParams()),
    _labels("f1", p.AveragedParams()),
    _labels("matthews_corrcoef", p.NoParams()),
    _labels("confusion_matrix", p.ConfusionMatrixParams(), resampling=None),
    MetricSpec("exact_match", TEXTS, p.ExactMatchParams(), "exact_match", "additive"),
    MetricSpec("ter", TEXTS, p.TerParams(), "score", "additive", multi_reference=True),
    MetricSpec("google_bleu", TEXTS, p.GoogleBleuParams(), "google_bleu", "additive", multi_reference=True),
    MetricSpec("wer", TEXTS, p.NoParams(), "wer", "additive", rate_of_references=True),
    MetricSpec("cer", TEXTS, p.NoParams(), "cer", "additive", rate_of_references=True),
    MetricSpec("bleu", TEXTS, p.BleuParams(), "score", "additive", multi_reference=True),
    MetricSpec("chrf", TEXTS, p.ChrfParams(), "score", "additive", multi_reference=True),
    MetricSpec("rouge", TEXTS, p.RougeParams(), "rougeL", "additive", multi_reference=True),
    MetricSpec("seqeval", TAGS, p.SeqevalParams(), "overall_f1", "additive"),
    MetricSpec("squad", ANSWERS, p.NoParams(), "f1", "additive"),
    MetricSpec("squad_v2", ANSWERS, p.SquadV2Params(), "f1", "additive"),
    MetricSpec("roc_auc", SCORES, p.RocAucParams(), "roc_auc", "recompute", input_field="prediction_scores"),
    MetricSpec("brier_score", PROBABILITIES, p.BrierParams(), "brier_score", "additive"),
    MetricSpec("mae", VALUES, p.NoParams(), "mae", "additive"),
    MetricSpec("mse", VALUES, p.MseParams(), "mse", "additive"),
    MetricSpec("r_squared", VALUES, p.NoParams(), "r_squared", "additive", varying=("references",)),
    MetricSpec("pearsonr", VALUES, p.CorrelationParams(), "pearsonr", "additive",
               varying=("predictions", "references"), min_items=3),
    MetricSpec("spearmanr", VALUES, p.CorrelationParams(), "spearmanr", "recompute",
               varying=("predictions", "references"), min_items=3),
    MetricSpec("perplexity", MODEL_TEXTS, p.PerplexityParams(), "mean_perplexity", "mean",
               capability="perplexity", references=False, per_item="perplexities"),
    MetricSpec("semantic_similarity", MODEL_TEXTS, p.ModelParams(), "semantic_similarity", "mean",
               capability="similarity", per_item="scores"),
]}

INPUT_DESCRIPTIONS = {
    LABELS: ("A list of class labels: integers or strings, not mixed.",
             "A list of class labels of the same type and length as predictions."),
    TEXTS: ("A list of texts (empty strings allowed).", "A list of reference texts, one per prediction."),
    TAGS: ("A list of sentences, each a list of tags such as B-PER, I-PER, O.",
           "A list of sentences of reference tags, each as long as its predicted sentence."),
    ANSWERS: ("A list of answers: {id, prediction_text}, and no_answer_probability (0 to 1) for squad_v2.",
              "A list of questions: {id, answers: {text: [...], answer_start: [...]}}, paired with the "
              "predictions by id (squad_v2 allows no answers)."),
    SCORES: ("prediction_scores: a score per item (binary), or a row of class probabilities summing to 1 "
             "(multiclass) or of scores (multilabel) per item.",
             "A list of labels (binary: two; multiclass), or of 0/1 rows as wide as the scores (multilabel)."),
    PROBABILITIES: ("A list of probabilities of the positive class, numbers in [0, 1].",
                    "A list of class labels, integers or strings, at most two different ones."),
    VALUES: ("A list of numbers (integers or floats; true and false are not numbers).",
             "A list of true values, numbers, one per prediction."),
    MODEL_TEXTS: ("A list of non-empty texts (at most MAX_ITEMS, each at most MAX_TEXT_CHARS characters).",
                  "A list of non-empty reference texts, one per prediction."),
}
