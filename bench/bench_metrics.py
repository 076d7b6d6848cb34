"""Metrics benchmark: the service's compute against the reference libraries, side by side in one run.

1. Server-side compute on 100k items (validation + the module's `_compute`, as a request runs it) over
   the reference library's own time on the same Python lists a request body parses into (scikit-learn
   for accuracy, f1, mae and mse, seqeval for seqeval, scipy for pearsonr and spearmanr, evaluate's own
   numpy lines for r_squared), and evaluate's `EvaluationModule.compute` (which writes
   an Arrow table first) over the same reference. Reference and service run in interleaved rounds;
   printed is the median of the rounds' ratios and their min-max. Target: service / reference <= 1.5.
   For context the last column times the reference on numpy arrays converted beforehand (no list
   conversion at all).
2. Per-request overhead for 100 items: p50 of an HTTP round trip to a real gunicorn server minus p50
   of the same call in-process. Target: <= 2 ms.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_metrics.py [--items 100000] [--rounds 15] [--requests 300]
"""
import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def label_data(n: int, seed: int = 0):
    rng = random.Random(seed)
    references = [rng.randint(0, 1) for _ in range(n)]
    return [r if rng.random() < 0.8 else 1 - r for r in references], references


def tag_data(n_tokens: int, seed: int = 0):
    rng = random.Random(seed)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]
    predictions, references, total = [], [], 0
    while total < n_tokens:
        length = rng.randint(5, 30)
        sentence = [rng.choice(tags) for _ in range(length)]
        references.append(sentence)
        predictions.append([t if rng.random() < 0.85 else rng.choice(tags) for t in sentence])
        total += length
    return predictions, references


def value_data(n: int, seed: int = 0):
    """Numbers as a regression head's predictions and their true values."""
    rng = random.Random(seed)
    references = [rng.gauss(0, 1) for _ in range(n)]
    return [r + rng.gauss(0, 0.5) for r in references], references


def probability_data(n: int, seed: int = 0):
    rng = random.Random(seed)
    references = [rng.randint(0, 1) for _ in range(n)]
    return [min(1.0, max(0.0, r * 0.7 + 0.15 + rng.gauss(0, 0.1))) for r in references], references


def squad_data(n: int, seed: int = 0):
    """SQuAD answers: a few words each, most right, some partly, some wrong."""
    rng = random.Random(seed)
    words = "the river park opened in june after a year of work by the city council".split()
    references, predictions = [], []
    for number in range(n):
        gold = " ".join(rng.sample(words, 3))
        guess = gold if rng.random() < 0.6 else " ".join(rng.sample(words, 2))
        references.append({"id": f"q{number}", "answers": {"text": [gold], "answer_start": [0]}})
        predictions.append({"id": f"q{number}", "prediction_text": guess})
    return predictions, references


def squad_v2_data(n: int, seed: int = 0):
    """SQuAD v2: a third of the questions have no answer; each prediction says how likely that is."""
    rng = random.Random(seed)
    predictions, references = squad_data(n, seed)
    for prediction, reference in zip(predictions, references):
        if rng.random() < 1 / 3:
            reference["answers"] = {"text": [], "answer_start": []}
        prediction["no_answer_probability"] = round(rng.random(), 2)
    return predictions, references


def squad_v2_reference(predictions, references):
    """The official SQuAD v2.0 script's steps (tests/unit/test_metrics_squad.py restates them)."""
    from test_metrics_squad import v2_evaluate
    return v2_evaluate([{"paragraphs": [{"qas": references}]}], {p["id"]: p["prediction_text"] for p in predictions},
                       {p["id"]: p["no_answer_probability"] for p in predictions})


def translation_data(n: int, seed: int = 0):
    """Translations and one reference each, as ter and google_bleu take them."""
    predictions, references = transcription_data(n, seed)
    return predictions, [[reference] for reference in references]


def ter_reference(predictions, references):
    """sacrebleu's TER, which evaluate's ter module calls (one reference stream per position)."""
    from sacrebleu.metrics import TER
    return TER().corpus_score(predictions, [[refs[i] for refs in references] for i in range(len(references[0]))])


def google_bleu_reference(predictions, references):
    """nltk's corpus_gleu on sacrebleu's 13a tokens, as evaluate's google_bleu module calls it."""
    from nltk.translate.gleu_score import corpus_gleu
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    tokenize = Tokenizer13a()
    return corpus_gleu([[tokenize(r).split() for r in refs] for refs in references],
                       [tokenize(p).split() for p in predictions])


def squad_reference(predictions, references):
    """The official SQuAD v1.1 script's steps (tests/unit/test_metrics_squad.py restates them)."""
    from test_metrics_squad import v1_evaluate
    return v1_evaluate([{"paragraphs": [{"qas": references}]}], {p["id"]: p["prediction_text"] for p in predictions})


def transcription_data(n: int, seed: int = 0):
    rng = random.Random(seed)
    words = "please send the invoice for order number twelve to the billing team today".split()
    references = [" ".join(rng.sample(words, 6)) for _ in range(n)]
    return [" ".join(w for w in r.split() if rng.random() < 0.9) for r in references], references


def error_rate_reference(characters: bool = False):
    """evaluate's wer and cer modules: jiwer on each pair, errors summed over reference lengths
    (tests/unit/test_metrics_error_rates.py holds the same computation, checked against the service)."""
    from test_metrics_error_rates import EVALUATE_CER, evaluate_rate
    return lambda predictions, references: evaluate_rate(predictions, references, EVALUATE_CER if characters else None)


def r_squared_reference(predictions, references):
    """evaluate's r_squared module, its lines as they are (tests/unit/test_metrics_values.py)."""
    from test_metrics_values import evaluate_r_squared
    return evaluate_r_squared(predictions, references)


def as_arrays(column: list):
    """Number and label lists as numpy arrays, converted before the clock starts; text and nested columns
    (seqeval's tag lists, squad's records, sacrebleu's strings) stay lists, the only form those references take."""
    import numpy as np
    return np.asarray(column) if isinstance(column[0], (int, float)) else column


def references_for(name):
    from seqeval.metrics import accuracy_score as seq_accuracy
    from seqeval.metrics import classification_report
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import (accuracy_score, brier_score_loss, f1_score, mean_absolute_error, mean_squared_error,
                                 roc_auc_score)
    return {
        "brier_score": lambda p, r: brier_score_loss(r, p),
        "roc_auc": lambda p, r: roc_auc_score(r, p),
        "wer": error_rate_reference(),
        "cer": error_rate_reference(characters=True),
        "squad": squad_reference,
        "squad_v2": squad_v2_reference,
        "ter": ter_reference,
        "google_bleu": google_bleu_reference,
        "accuracy": lambda p, r: accuracy_score(r, p),
        "f1": lambda p, r: f1_score(r, p),
        "mae": lambda p, r: mean_absolute_error(r, p),
        "mse": lambda p, r: mean_squared_error(r, p),
        "r_squared": r_squared_reference,
        "pearsonr": lambda p, r: pearsonr(r, p),
        "spearmanr": lambda p, r: spearmanr(r, p),
        "seqeval": lambda p, r: (classification_report(r, p, output_dict=True, zero_division=0), seq_accuracy(r, p)),
    }[name]


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def compute_ratios(items: int, rounds: int) -> None:
    """Per metric, rounds interleaved (reference then service, then service then reference, ...): each
    round's ratio is its service time over its reference time, so drift in the machine's load falls on
    both; printed as the median ratio and its min-max over the rounds."""
    from service import create_app, scoring
    from service.scoring import loader
    app = create_app({"LOAD_MODELS": False})
    print(f"\n== server-side compute, {items} items (tags for seqeval), up to {rounds} interleaved rounds ==")
    print(f"{'metric':<11} {'reference ms':>12} {'service ms':>11} {'service/reference':>24} "
          f"{'evaluate.compute/ref':>21} {'ref on arrays ms':>17} {'rounds':>7}")
    over = []
    with app.app_context():
        values = value_data(items)
        for name, data in [("accuracy", label_data(items)), ("f1", label_data(items)), ("seqeval", tag_data(items)),
                           *((name, values) for name in ("mae", "mse", "r_squared", "pearsonr", "spearmanr")),
                           ("brier_score", probability_data(items)), ("roc_auc", probability_data(items)),
                           ("squad", squad_data(items)), ("squad_v2", squad_v2_data(items)),
                           ("wer", transcription_data(items)), ("cer", transcription_data(items)),
                           ("ter", translation_data(items)), ("google_bleu", translation_data(items))]:
            predictions, references = data
            field = "prediction_scores" if name == "roc_auc" else "predictions"
            body = {field: predictions, "references": references}
            sides = {"reference": lambda: references_for(name)(predictions, references),
                     "service": lambda: scoring.compute_one(None, name, body)}
            for side in sides.values():  # imports, first-call caches
                side()
            warm = sum(timed(side) for side in sides.values())
            times = {side: [] for side in sides}
            # Slow metrics (seconds a call) get fewer rounds, about a minute each, never under 5.
            for number in range(max(5, min(rounds, int(60 / warm)))):
                for side in (list(sides) if number % 2 == 0 else list(sides)[::-1]):
                    times[side].append(timed(sides[side]))
            ratios = [s / r for s, r in zip(times["service"], times["reference"])]
            module = loader.module(name)
            through_arrow = timed(lambda: module.compute(**{field: predictions}, references=references))
            on_arrays = min(timed(lambda: references_for(name)(*map(as_arrays, data))) for _ in range(3 if warm < 1 else 1))
            reference = statistics.median(times["reference"])
            median = statistics.median(ratios)
            if median > 1.5:
                over.append(name)
            print(f"{name:<11} {reference * 1e3:>12.2f} {statistics.median(times['service']) * 1e3:>11.2f} "
                  f"{median:>9.2f} ({min(ratios):.2f}-{max(ratios):.2f}){'':>5} {through_arrow / reference:>21.2f} "
                  f"{on_arrays * 1e3:>17.2f} {len(ratios):>7}")
    print(f"target: service/reference median <= 1.5; over it: {', '.join(over) or 'none'}")


def percentile(values: list, q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def overhead(requests_count: int, tmp: Path) -> None:
    from aiqa_fixtures import LiveServer
    from service import create_app, scoring
    predictions, references = label_data(100, seed=1)
    body = {"predictions": predictions, "references": references}
    payload = json.dumps(body)
    app = create_app({"LOAD_MODELS": False})
    with app.app_context():
        scoring.compute_one(None, "f1", body)
        in_process = [timed(lambda: scoring.compute_one(None, "f1", body)) for _ in range(requests_count)]
    server = LiveServer(tmp, env={"AIQA_LOAD_MODELS": "false"})
    try:
        server.start(wait_ready=False)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

        def call(method="POST", path="/v1/metrics/f1"):
            connection.request(method, path, payload if method == "POST" else None,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
        for _ in range(20):
            call()
        over_http = [timed(call) for _ in range(requests_count)]
        floor = [timed(lambda: call("GET", "/livez")) for _ in range(requests_count)]
    finally:
        server.stop()
    p50_local, p50_http = statistics.median(in_process) * 1e3, statistics.median(over_http) * 1e3
    print(f"\n== per-request overhead, f1 on 100 items, {requests_count} calls, one gunicorn worker ==")
    print(f"in-process p50 {p50_local:.3f} ms   HTTP p50 {p50_http:.3f} ms   overhead p50 {p50_http - p50_local:.3f} ms")
    print(f"(HTTP p90 {percentile(over_http, 90) * 1e3:.3f} ms; GET /livez p50 "
          f"{statistics.median(floor) * 1e3:.3f} ms, the server stack's floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    compute_ratios(args.items, args.rounds)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        overhead(args.requests, Path(tmp))


if __name__ == "__main__":
    main()
