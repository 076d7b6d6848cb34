"""Token-classification heads (AutoModelForTokenClassification, e.g. dslim/bert-base-NER).

Entities come out exactly as transformers' token-classification pipeline makes them: the forward
pass is ours (batched, padded on the right, cut back per text), the aggregation is the pipeline's
own post-processing, run on the same logits. A text longer than the model's window is refused
rather than silently cut, as the pipeline would cut it: a NER score on a truncated text misleads.

Word labels, for seqeval: words are the text's whitespace-separated pieces (join a CoNLL table's
tokens with spaces to get them back); a word's tag comes from its sub-tokens' scores, by the first
sub-token (the CoNLL convention) or, when the request aggregates by `average` or `max`, that way.
Labels without a B-/I- prefix become BIO tags: B- where the word starts a run of that label.
"""
import re

import numpy as np

from .base import ModelWrapper
from ..contract import InputError

WHITESPACE_WORD = re.compile(r"\S+")


class TokenClassifier(ModelWrapper):
    task = "token-classification"
    capabilities = frozenset({"ner"})
    auto_class = "AutoModelForTokenClassification"

    def __init__(self, spec, *, model, tokenizer, **kwargs):
        from transformers import TokenClassificationPipeline
        super().__init__(spec, **kwargs)
        if not tokenizer.is_fast:
            raise ValueError(f"{spec.name!r}: token classification needs a fast tokenizer (for character offsets)")
        self.model, self.tokenizer = model, tokenizer
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        positions = getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length
        self.window = min(tokenizer.model_max_length, positions)
        # Used for its post-processing only; our forward pass feeds it.
        self.pipeline = TokenClassificationPipeline(model=model, tokenizer=tokenizer, device=model.device)

    def warmup(self) -> None:
        self.entities(["Warm-up text from Paris."])

    def describe(self) -> dict:
        return {**super().describe(), "labels": self.labels, "max_tokens": self.window}

    def calibration_calls(self):
        long = [self.fitting_text(min(128, self.window))] * self.max_batch_size
        return [("ner", "token", lambda: self.entities(["Calibration in Paris."])),
                ("ner", "token", lambda: self.entities(long))]

    def entities(self, texts, aggregation="simple", word_labels=False) -> dict:
        """Entities per text; with word_labels also its words and their BIO tags."""
        outputs = self.token_outputs(texts)
        answer = {"entities": [self.group(output, aggregation) for output in outputs]}
        if word_labels:
            strategy = aggregation if aggregation in ("average", "max") else "first"
            tagged = [self.word_tags(text, output, strategy) for text, output in zip(texts, outputs)]
            answer["words"] = [words for words, _ in tagged]
            answer["tags"] = [tags for _, tags in tagged]
        return answer

    # -- the forward pass ------------------------------------------------------------------------
    def token_outputs(self, texts) -> list[dict]:
        """Per text, what the pipeline's post-processing reads: logits, ids, offsets, special-token mask."""
        import torch
        encoded = [self.tokenizer(text, return_special_tokens_mask=True, return_offsets_mapping=True)
                   for text in texts]
        for index, enc in enumerate(encoded):
            if len(enc["input_ids"]) > self.window:
                raise InputError(index, "inputs", (
                    f"inputs[{index}] has {len(enc['input_ids'])} tokens; {self.name!r} reads at most "
                    f"{self.window}: split the text"))
        logits = self.batched("ner", self._logits_batch, texts,
                              units=[len(enc["input_ids"]) for enc in encoded])
        return [{
            "logits": logits[i], "sentence": text, "is_last": True,
            "input_ids": torch.tensor([encoded[i]["input_ids"]]),
            "offset_mapping": torch.tensor([encoded[i]["offset_mapping"]]),
            "special_tokens_mask": torch.tensor([encoded[i]["special_tokens_mask"]]),
        } for i, text in enumerate(texts)]

    def _logits_batch(self, texts) -> list:
        """Token logits per text, [1, its own length], from padded batches (with concurrent requests')."""
        return self.by_length(texts, len, self._logits_part)

    def _logits_part(self, texts) -> list:
        features = self.tokenizer(texts, padding=True, padding_side="right", return_tensors="pt").to(self.device)
        with self.forward(len(texts)):
            logits = self.model(**features).logits.float().cpu()
        lengths = features["attention_mask"].sum(-1).tolist()
        return [logits[row:row + 1, :length] for row, length in enumerate(lengths)]

    # -- post-processing -------------------------------------------------------------------------
    def group(self, output: dict, aggregation: str) -> list[dict]:
        from transformers.pipelines.token_classification import AggregationStrategy
        found = self.pipeline.postprocess([output], aggregation_strategy=AggregationStrategy(aggregation))
        return [{"entity": e.get("entity_group", e.get("entity")), "word": e["word"], "start": int(e["start"]),
                 "end": int(e["end"]), "score": float(e["score"])} for e in found]

    def word_tags(self, text: str, output: dict, strategy: str) -> tuple[list[str], list[str]]:
        logits = output["logits"][0].numpy()
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        spans = [m.span() for m in WHITESPACE_WORD.finditer(text)]
        per_word = [[] for _ in spans]
        starts = np.array([a for a, _ in spans])
        special = output["special_tokens_mask"][0].tolist()
        for token, (begin, end) in enumerate(output["offset_mapping"][0].tolist()):
            if not special[token] and end > begin:
                per_word[int(np.searchsorted(starts, begin, side="right")) - 1].append(probs[token])
        labels = [self.word_label(scores, strategy) for scores in per_word]
        return [text[a:b] for a, b in spans], to_bio(labels)

    def word_label(self, scores: list[np.ndarray], strategy: str) -> str:
        if not scores:
            return "O"
        if strategy == "average":
            return self.labels[int(np.mean(scores, axis=0).argmax())]
        chosen = max(scores, key=lambda s: s.max()) if strategy == "max" else scores[0]
        return self.labels[int(chosen.argmax())]


def to_bio(labels: list[str]) -> list[str]:
    """Model labels to BIO tags: B-/I- labels and O kept; a bare label X becomes B-X, or I-X after X."""
    tags, previous = [], None
    for label in labels:
        if label == "O" or label[:2] in ("B-", "I-"):
            tags.append(label)
        else:
            tags.append(("I-" if previous == label else "B-") + label)
        previous = label
    return tags
