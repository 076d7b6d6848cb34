"""Sequence-classification heads (AutoModelForSequenceClassification), scored as the transformers
text-classification pipeline scores them: sigmoid for one label or multi-label, softmax otherwise."""

from .base import ModelWrapper, batches, load_pretrained


class SequenceClassifier(ModelWrapper):
    task = "text-classification"
    capabilities = frozenset({"classify"})

    def __init__(self, spec, *, model, tokenizer, **kwargs):
        super().__init__(spec, **kwargs)
        self.model = model
        self.tokenizer = tokenizer
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.sigmoid = config.num_labels == 1 or config.problem_type == "multi_label_classification"

    @classmethod
    def load(cls, spec, source, device, dtype):
        model, tokenizer = load_pretrained("AutoModelForSequenceClassification", source, device, dtype)
        return cls(spec, model=model, tokenizer=tokenizer, device=device, dtype=dtype,
                   revision=source.revision, source=source.uri)

    def warmup(self) -> None:
        self.classify(["Warm-up text."])

    def describe(self) -> dict:
        return {**super().describe(), "labels": self.labels}

    def classify(self, texts, **_):
        return self.batched("classify", self._classify_batch, texts)

    def _classify_batch(self, texts):
        results = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for chunk in batches(order, self.max_batch_size):
            encoded = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True, return_tensors="pt")
            with self.forward(len(chunk)):
                logits = self.model(**encoded.to(self.device)).logits.float()
            scores = logits.sigmoid() if self.sigmoid else logits.softmax(-1)
            for row, i in zip(scores.cpu().tolist(), chunk):
                results[i] = dict(zip(self.labels, row))
        return results
