"""Sentence embeddings: mean-pooled over the attention mask, L2-normalised (all-MiniLM-L6-v2's recipe)."""
import json
import os

import numpy as np

from .base import ModelWrapper, calibration_text, load_pretrained


class Embedder(ModelWrapper):
    task = "embeddings"
    capabilities = frozenset({"embed", "similarity"})

    def __init__(self, spec, *, model, tokenizer, max_seq_length, **kwargs):
        super().__init__(spec, **kwargs)
        self.model = model
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length

    @classmethod
    def load(cls, spec, source, device, dtype):
        model, tokenizer = load_pretrained("AutoModel", source, device, dtype)
        max_seq_length = spec.options.get("max_seq_length") or _sentence_transformers_max_length(source.path)
        return cls(spec, model=model, tokenizer=tokenizer, device=device, dtype=dtype,
                   max_seq_length=max_seq_length or tokenizer.model_max_length,
                   revision=source.revision, source=source.uri)

    def warmup(self) -> None:
        self.embed(["Warm-up text."])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings, one row per text, in input order. numpy, not torch: a torch operation
        on a request thread would give it an OpenMP team of its own (service/compute.py)."""
        counts = self.token_counts(texts, truncation=True, max_length=self.max_seq_length)
        return np.stack(self.batched("embed", self._embed_batch, texts, units=counts))

    def calibration_calls(self):
        long = [calibration_text(128)] * self.max_batch_size
        return [("embed", "token", lambda: self.embed(["Calibration."])),
                ("embed", "token", lambda: self.embed(long))]

    def _embed_batch(self, texts: list[str]) -> list:
        return self.by_length(texts, len, self._embed_part)

    def _embed_part(self, texts: list[str]) -> list:
        import torch
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                                 return_tensors="pt").to(self.device)
        with self.forward(len(texts)):
            hidden = self.model(**encoded).last_hidden_state.float()
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return list(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())

    def similarity(self, pairs: list[tuple[str, str]]) -> list[float]:
        unique = list(dict.fromkeys(text for pair in pairs for text in pair))
        vectors = dict(zip(unique, self.embed(unique)))
        # Clamped: float32 rounding puts a text paired with itself at 1.0000001.
        return [max(-1.0, min(1.0, float(vectors[a] @ vectors[b]))) for a, b in pairs]


def _sentence_transformers_max_length(path: str) -> int | None:
    config = os.path.join(path, "sentence_bert_config.json")
    if os.path.isfile(config):
        with open(config) as fh:
            return json.load(fh).get("max_seq_length")
    return None
