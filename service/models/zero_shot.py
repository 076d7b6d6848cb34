"""A named zero-shot classifier defined in a profile on top of a causal LM: fixed labels, a prompt.

    - name: sentiment
      task: zero-shot-classification
      base: smollm2
      options:
        labels: {POSITIVE: positive, NEGATIVE: negative}    # answer label -> word the LM scores
        prompt: "Is the sentiment of this text positive or negative? ...\n\nText: {text}"

Its calibration scores are computed at warm-up and kept by the base model, not redone per request.
"""
from .base import ModelWrapper


class ZeroShotClassifier(ModelWrapper):
    task = "zero-shot-classification"
    capabilities = frozenset({"classify"})

    def __init__(self, spec, *, base, **kwargs):
        super().__init__(spec, **kwargs)
        self.base = base
        labels = spec.options.get("labels")
        if not labels:
            raise ValueError(f"zero-shot classifier {spec.name!r} needs options.labels")
        self.labels = dict(labels) if isinstance(labels, dict) else {label: label for label in labels}
        self.prompt = spec.options.get("prompt")
        self.hypothesis_template = spec.options.get("hypothesis_template", "{}")
        self.lock = base.lock

    @classmethod
    def load(cls, spec, base):
        return cls(spec, base=base, device=base.device, dtype=base.dtype,
                   revision=base.revision, source=f"model:{base.name}")

    def warmup(self) -> None:
        self.classify(["Warm-up text."])

    def describe(self) -> dict:
        return {**super().describe(), "base": self.base.name, "labels": list(self.labels)}

    def budget(self) -> dict:
        """The base model's: its log-likelihood work is what this classifier's requests cost."""
        budget = self.base.budget()
        return {**budget, "work": {kind: rates for kind, rates in budget["work"].items() if kind == "logprobs"}}

    def classify(self, texts, **_):
        probs = self.base.zero_shot(
            texts, list(self.labels.values()), prompt_template=self.prompt,
            hypothesis_template=self.hypothesis_template)
        return [dict(zip(self.labels, row.tolist())) for row in probs]
