"""Semantic similarity: the cosine of sentence embeddings of each prediction and its reference."""
import math

import datasets
import evaluate

_DESCRIPTION = """
Semantic similarity scores each prediction against its reference by the cosine of their sentence
embeddings (mean-pooled, normalised), so paraphrases score high where n-gram metrics score low. The
embedding model is passed in already loaded (the service passes its warm registry model); this module
never loads one. `semantic_similarity` is the mean of the per-pair `scores`.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): predicted texts.
    references (`list` of `str`): reference texts.
    model: a loaded embedding model with `similarity(pairs)` (the service's registry model).
Returns:
    semantic_similarity (`float`): the mean cosine; scores (`list` of `float`): one per pair.
Examples:
    >>> class WordOverlap:  # stands in for the registry's embedding model
    ...     def similarity(self, pairs):
    ...         return [len(set(a.split()) & set(b.split())) / len(set(a.split()) | set(b.split())) for a, b in pairs]
    >>> SemanticSimilarity().compute(predictions=["a cat", "a dog"], references=["a cat", "the cat"],
    ...                              model=WordOverlap())
    {'semantic_similarity': 0.5, 'scores': [1.0, 0.0]}
"""

_CITATION = """
@inproceedings{reimers-2019-sentence-bert, title = "Sentence-{BERT}: Sentence Embeddings using Siamese
{BERT}-Networks", author = "Reimers, Nils and Gurevych, Iryna", booktitle = "EMNLP-IJCNLP", year = "2019"}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SemanticSimilarity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
            reference_urls=["https://www.sbert.net/docs/usage/semantic_textual_similarity.html"],
        )

    def _compute(self, predictions, references, model):
        scores = [float(score) for score in model.similarity(list(zip(predictions, references)))]
        return {"semantic_similarity": math.fsum(scores) / len(scores), "scores": scores}
