"""Admission by cost (service/admission.py): the work estimate a request gets before it is queued,
against the time the same request then takes, on the default profile, over a range of sizes.

The app runs in-process with the default models (their rates timed at warm-up, as `make run` does).
Every request runs once untimed first. For each request the estimate is read from the 413 the app
answers with a limit of a microsecond, then the request runs with no limit and its time is measured.
Rounds are interleaved (every request once per round); the measured time is the median of the
rounds, with their spread. Target: estimate / measured within 0.5-2 for every row. The refusal's own
time (tokenising, estimating) is printed beside it: that is what an over-budget request costs the
server.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_admission.py [--rounds 3]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SENTENCE = "The committee reviewed the quarterly report and asked for a clearer budget before Friday."
CONTEXT_SENTENCE = ("The city council met on Tuesday to discuss the riverside park, which Mayor Helen Ortiz "
                    "said would open in June. ")


def words(count: int) -> str:
    pool = SENTENCE.split()
    return " ".join(pool[i % len(pool)] for i in range(count))


def requests() -> list[tuple[str, str, dict]]:
    """(label, path, body): each endpoint of the default profile at a small, medium and large size."""
    table = []
    for n in (1, 16, 64):
        table.append((f"classify (zero-shot) {n} x 16 words", "/v1/classify", {"inputs": [words(16)] * n}))
    for n, length in ((1, 64), (4, 400), (1, 1500), (8, 1000)):
        table.append((f"perplexity {n} x {length} words", "/v1/perplexity", {"inputs": [words(length)] * n}))
    for sentences in (1, 4, 12):
        table.append((f"qa, context of {sentences * 16} words", "/v1/qa",
                      {"question": "When will the park open?", "context": CONTEXT_SENTENCE * sentences}))
    for tokens in (8, 32, 96):
        # A request the model answers at length, so that it runs to max_new_tokens (the estimate is
        # for all of them: a generation that stops early takes less).
        table.append((f"generate {tokens} new tokens", "/v1/generate", {
            "messages": [{"role": "user", "content": "Write a long story about a fox who travels the world."}],
            "max_new_tokens": tokens}))
    for n, length in ((1, 16), (64, 32), (256, 64)):
        table.append((f"similarity {n} pairs x {length} words", "/v1/similarity",
                      {"pairs": [[words(length), words(length) + f" {i}"] for i in range(n)]}))
    return table


def models_of(app) -> list:
    registry = app.extensions["aiqa.registry"]
    return [slot.model for slot in registry.slots.values() if slot.model is not None]


def set_limit(app, limit_s: float | None) -> None:
    for model in models_of(app):
        model.batch_settings.max_work_s = limit_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from service import create_app
    started = time.perf_counter()
    app = create_app({"PROFILE": "default", "LOAD_IN_BACKGROUND": False, "STORE": False})
    print(f"default profile loaded, warmed and timed in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    for model in models_of(app):
        for kind, rates in model.budget()["work"].items():
            print(f"  {model.name}/{kind}: {rates}")
    table = requests()
    for _, path, body in table:  # once, untimed: a first call's one-time costs are not the work's
        assert client.post(path, json=body).status_code == 200
    estimates, refusals, measured = {}, {}, {label: [] for label, _, _ in table}
    for round_number in range(args.rounds):
        for label, path, body in table:
            set_limit(app, 1e-6)
            began = time.perf_counter()
            refused = client.post(path, json=body)
            refusal_s = time.perf_counter() - began
            assert refused.status_code == 413, (label, refused.status_code, refused.json)
            estimates[label] = refused.json["estimate_s"]
            refusals.setdefault(label, []).append(refusal_s)
            set_limit(app, None)
            began = time.perf_counter()
            answer = client.post(path, json=body)
            measured[label].append(time.perf_counter() - began)
            assert answer.status_code == 200, (label, answer.status_code, answer.json)
            if path == "/v1/generate":
                assert answer.json["completion_tokens"] == body["max_new_tokens"], answer.json
        print(f"round {round_number + 1} of {args.rounds} done")
    print(f"\n{'request':<40} {'estimate s':>10} {'measured s (min-max)':>24} {'est/meas':>9} {'refusal ms':>11}")
    ratios = []
    for label, _, _ in table:
        median = statistics.median(measured[label])
        ratio = estimates[label] / median
        ratios.append(ratio)
        spread = f"{median:.3f} ({min(measured[label]):.3f}-{max(measured[label]):.3f})"
        print(f"{label:<40} {estimates[label]:>10.3f} {spread:>24} {ratio:>9.2f} "
              f"{1000 * statistics.median(refusals[label]):>11.1f}")
    inside = sum(0.5 <= r <= 2 for r in ratios)
    print(f"\nestimate / measured from {min(ratios):.2f} to {max(ratios):.2f}; {inside} of {len(ratios)} rows "
          "within 0.5-2 (target: all)")


if __name__ == "__main__":
    main()
