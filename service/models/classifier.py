"""Sequence-classification heads (AutoModelForSequenceClassification), scored as the transformers
text-classification pipeline scores them: sigmoid for one label or multi-label, softmax otherwise."""

from .base import ModelWrapper, calibration_text


class SequenceClassifier(ModelWrapper):
    task = "text-classification"
    capabilities = frozenset({"classify"})
    auto_class = "AutoModelForSequenceClassification"

    def __init__(self, spec, *, model, tokenizer, **kwargs):
        super().__init__(spec, **kwargs)
        self.model = model
        self.tokenizer = tokenizer
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.sigmoid = config.num_labels == 1 or config.problem_type == "multi_label_classification"

    def warmup(self) -> None:
        self.classify(["Warm-up text."])

    def describe(self) -> dict:
        return {**super().describe(), "labels": self.labels}

    def calibration_calls(self):
        long = [calibration_text(128)] * self.max_batch_size
        return [("classify", "token", lambda: self.classify(["Calibration."])),
                ("classify", "token", lambda: self.classify(long))]

    def classify(self, texts, **_):
        return self.batched("classify", self._classify_batch, texts,
                            units=self.token_counts(texts, truncation=True))

    def _classify_batch(self, texts):
        return self.by_length(texts, len, self._classify_part)

    def _classify_part(self, texts):
        encoded = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with self.forward(len(texts)):
            logits = self.model(**encoded.to(self.device)).logits.float()
        scores = logits.sigmoid() if self.sigmoid else logits.softmax(-1)
        return [dict(zip(self.labels, row)) for row in scores.cpu().tolist()]
