"""CER: the character error rate of transcriptions or OCR output (jiwer's alignment of characters)."""
import datasets
import evaluate
import jiwer
import numpy as np

_DESCRIPTION = """
Character error rate: the characters to substitute, delete and insert to turn each prediction into its
reference, summed over all pairs, over the number of reference characters. Spaces count as characters;
runs of spaces are collapsed and the ends trimmed first (evaluate's transform). 0 is perfect.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): transcriptions (or any text) to score.
    references (`list` of `str`): the reference texts; together they must hold at least one character.
Returns:
    cer (`float`): 0 or more, lower is better. evaluate's module returns the bare number; here it is
    keyed by its name, like every other metric's result.
Examples:
    >>> cer = CER()
    >>> round(cer.compute(predictions=["this is the prediction", "there is an other sample"],
    ...                   references=["this is the reference", "there is another one"])["cer"], 4)
    0.3415
"""

_CITATION = """
@inproceedings{morris2004, author={Morris, Andrew and Maier, Viktoria and Green, Phil},
title={From WER and RIL to MER and WIL: improved evaluation measures for connected speech recognition},
year={2004}, booktitle={Interspeech}}
"""

# evaluate's cer module's transform: collapse spaces, trim, one sentence, a list of characters.
CER_TRANSFORM = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToSingleSentence(""),
                               jiwer.ReduceToListOfListOfChars()])


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CER(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string", id="sequence"),
                                        "references": datasets.Value("string", id="sequence")}),
            codebase_urls=["https://github.com/jitsi/jiwer/"],
            reference_urls=["https://en.wikipedia.org/wiki/Word_error_rate"],
        )

    def _compute(self, predictions, references):
        totals = self._item_statistics(predictions, references).sum(axis=0)
        return {"cer": float(totals[0] / totals[1])}

    def _item_statistics(self, predictions, references):
        """One row per pair: its character errors and its reference characters."""
        rows = []
        for prediction, reference in zip(predictions, references):
            found = jiwer.process_words(reference, prediction, reference_transform=CER_TRANSFORM,
                                        hypothesis_transform=CER_TRANSFORM)
            rows.append((found.substitutions + found.deletions + found.insertions,
                         found.substitutions + found.deletions + found.hits))
        return np.asarray(rows, dtype=np.float64)

    def _score_statistics(self, totals, count):
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample of empty references only
            return {"cer": totals[:, 0] / totals[:, 1]}
