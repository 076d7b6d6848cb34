"""seqeval: entity-level precision, recall and F1 for sequence labelling (NER, chunking)."""
import datasets
import evaluate
import numpy as np
from seqeval import scheme as schemes
from seqeval.metrics import accuracy_score
from seqeval.metrics import v1
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support

_DESCRIPTION = """
seqeval scores sequence labelling by entities, as the CoNLL-2000 conlleval script does: an entity counts
as found only when its type and exact span match. Tags follow IOB1, IOB2 or IOBES ("B-PER", "I-PER",
"O"; with `suffix` the type comes first: "PER-B"). The default mode is conlleval's lenient chunking;
mode="strict" with a `scheme` accepts only entities that are well-formed in that scheme. Returns the
overall (micro-averaged) precision, recall and F1, token accuracy, and precision, recall, F1 and number
of reference entities per entity type.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `str`): predicted tags, one list per sentence.
    references (`list` of `list` of `str`): reference tags, one list per sentence.
    suffix (`bool`, default False): the tag's type comes before its prefix ("PER-B").
    scheme (`str`, optional): IOB1, IOB2 or IOBES; used with mode="strict".
    mode (`str`, optional): "strict" to score only entities valid in `scheme`.
    sample_weight (`list` of `float`, optional): a weight per sentence.
    zero_division (`int`, default 0): the value a score takes when its denominator is zero.
Returns:
    overall_precision, overall_recall, overall_f1, overall_accuracy (`float`), and per entity type a
    dict with precision, recall, f1 and number.
Examples:
    >>> seqeval = Seqeval()
    >>> references = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> predictions = [["B-PER", "I-PER", "O", "O"]]
    >>> result = seqeval.compute(predictions=predictions, references=references)
    >>> result["overall_precision"], result["overall_recall"], result["overall_accuracy"]
    (1.0, 0.5, 0.75)
    >>> result["LOC"]
    {'precision': 0.0, 'recall': 0.0, 'f1': 0.0, 'number': 1}
"""

_CITATION = """
@misc{seqeval, title={{seqeval}: A Python framework for sequence labeling evaluation},
url={https://github.com/chakki-works/seqeval}, author={Hiroki Nakayama}, year={2018}}
"""

SCHEMES = ("IOB1", "IOB2", "IOBES")


def _scheme(name):
    if name is None:
        return None
    if name not in SCHEMES:
        raise ValueError(f"scheme must be one of {list(SCHEMES)}, got {name!r}")
    return getattr(schemes, name)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Seqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                "references": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
            }),
            codebase_urls=["https://github.com/chakki-works/seqeval"],
            reference_urls=["https://github.com/chakki-works/seqeval"],
        )

    def _compute(self, predictions, references, suffix=False, scheme=None, mode=None, sample_weight=None,
                 zero_division=0):
        """What seqeval's classification_report(output_dict=True) reports per type and as "micro avg",
        from the same seqeval functions, without the macro and weighted averages it would discard."""
        names, scores = self._scores(references, predictions, suffix, _scheme(scheme), mode == "strict",
                                     dict(sample_weight=sample_weight, zero_division=zero_division))
        (precision, recall, f1, number), (overall_p, overall_r, overall_f1, _) = scores
        result = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "number": int(n)}
                  for name, p, r, f, n in zip(names, precision, recall, f1, number)}
        result["overall_precision"] = float(overall_p)
        result["overall_recall"] = float(overall_r)
        result["overall_f1"] = float(overall_f1)
        result["overall_accuracy"] = float(accuracy_score(y_true=references, y_pred=predictions))
        return result

    def _scores(self, references, predictions, suffix, scheme, strict, options):
        """(entity types, [per-type scores, micro-averaged scores]) as classification_report gets them."""
        if strict and scheme is not None:
            true = schemes.Entities(references, scheme, suffix)
            pred = schemes.Entities(predictions, scheme, suffix)
            names = sorted(true.unique_tags | pred.unique_tags)
            options.update(scheme=scheme, suffix=suffix, entities_true=true, entities_pred=pred)
            prf = v1.precision_recall_fscore_support
        else:
            names = sorted({name for sentences in (references, predictions)
                            for name, _, _ in get_entities(sentences, suffix)})
            options.update(suffix=suffix)
            prf = precision_recall_fscore_support
        return names, [prf(references, predictions, average=average, **options) for average in (None, "micro")]

    def _item_statistics(self, predictions, references, suffix=False, scheme=None, mode=None, zero_division=0):
        """Per sentence: matched, predicted and reference entities, correct tokens, tokens.

        Entities never cross sentences, so the overall scores are functions of these columns' sums.
        """
        true = self._entities(references, suffix, scheme, mode)
        pred = self._entities(predictions, suffix, scheme, mode)
        rows = [(len(t & p), len(p), len(t), sum(a == b for a, b in zip(ref, hyp)), len(ref))
                for t, p, ref, hyp in zip(true, pred, references, predictions)]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), 5)

    def _entities(self, sentences, suffix, scheme, mode):
        if mode == "strict" and scheme is not None:
            found = schemes.Entities([list(s) for s in sentences], _scheme(scheme), suffix).entities
            return [{entity.to_tuple()[1:] for entity in entities} for entities in found]
        return [set(get_entities(list(sentence), suffix)) for sentence in sentences]

    def _score_statistics(self, totals, count, zero_division=0, **options):
        matched, predicted, actual, correct, tokens = totals.T
        precision = np.divide(matched, predicted, out=np.full(len(totals), float(zero_division)),
                              where=predicted > 0)
        recall = np.divide(matched, actual, out=np.full(len(totals), float(zero_division)), where=actual > 0)
        denominator = precision + recall
        f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(len(totals)), where=denominator > 0)
        return {"overall_precision": precision, "overall_recall": recall, "overall_f1": f1,
                "overall_accuracy": correct / tokens}
