"""Perplexity of texts under a causal language model that the caller has already loaded."""
import math

import datasets
import evaluate

_DESCRIPTION = """
Perplexity is exp(mean negative log-likelihood of a text's tokens) under a causal language model:
lower means the model finds the text more predictable. The model is passed in already loaded (the
service passes its warm registry model); this module never loads one. The first token of each text is
not predicted, and texts longer than `max_length` tokens are scored in overlapping windows that start
every `stride` tokens, each token predicted once. `mean_perplexity` is the mean of the per-text values.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the texts to score.
    model: a loaded causal LM with `perplexity(texts, max_length, stride)` (the service's registry model).
    max_length (`int`, optional): the window in tokens; defaults to the model's.
    stride (`int`, optional): the step between windows; defaults to half the window.
Returns:
    perplexities (`list` of `float`), mean_perplexity (`float`), token_counts (`list` of `int`, tokens
    predicted per text), max_length and stride (as used).
Examples:
    >>> class Uniform:  # stands in for the registry's causal LM: every token has probability 1/4
    ...     def perplexity(self, texts, max_length, stride):
    ...         results = [type("Result", (), {"perplexity": 4.0, "token_count": len(t.split()) - 1}) for t in texts]
    ...         return results, max_length or 1024, stride or 512
    >>> Perplexity().compute(predictions=["a b c", "a b"], model=Uniform())["mean_perplexity"]
    4.0
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Perplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
            reference_urls=["https://huggingface.co/docs/transformers/perplexity"],
        )

    def _compute(self, predictions, model, max_length=None, stride=None):
        results, max_length, stride = model.perplexity(list(predictions), max_length, stride)
        perplexities = [float(result.perplexity) for result in results]
        return {"perplexities": perplexities, "mean_perplexity": math.fsum(perplexities) / len(perplexities),
                "token_counts": [int(result.token_count) for result in results],
                "max_length": max_length, "stride": stride}
