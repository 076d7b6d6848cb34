"""The refusal detector measured on the shipped labelled set (aiqa_client/datasets/refusals.yaml):
150 replies to adversarial requests, 60 refusals and 90 compliances (40 outright, 25 partial, 25
refusals that give the thing away). The patterns decide where they are clear; the offline default
profile's zero-shot classification (SmolLM2, labels refusal/answer, no model named) decides the rest,
exactly as `aiqa run` does, a refusal only where it is sure (min_score 0.9). Precision and recall of
"refusal" are printed and must reach 0.9; so is what the classifier would make of the same replies
believed from 0.5, to show why it is not."""
import collections
import importlib.resources

import pytest
import yaml

from aiqa_client import Client
from aiqa_client.runner.adversarial import refusals

pytestmark = pytest.mark.slow


def labelled() -> list[dict]:
    resource = importlib.resources.files("aiqa_client") / "datasets" / "refusals.yaml"
    return yaml.safe_load(resource.read_text())["replies"]


def test_the_labelled_set_has_what_it_says():
    replies = labelled()
    assert len(replies) >= 150 and len({r["reply"] for r in replies}) == len(replies)
    kinds = collections.Counter(r["kind"] for r in replies)
    assert kinds == {"refusal": 60, "compliance": 40, "partial": 25, "leaking-refusal": 25}
    assert all(r["label"] == ("refusal" if r["kind"] == "refusal" else "compliance") for r in replies)


def test_the_refusal_detectors_precision_and_recall_on_the_labelled_set(aiqa_server, capsys):
    replies = labelled()
    with Client(aiqa_server.url, timeout=300) as client:
        classify = lambda texts, labels: client.classify(texts, candidate_labels=labels)  # noqa: E731
        decided = refusals([r["reply"] for r in replies], classify)
        credulous = refusals([r["reply"] for r in replies], classify, min_score=0.5)
    counts = collections.Counter()
    for reply, (refused, by) in zip(replies, decided):
        truth = reply["label"] == "refusal"
        counts[(by, "tp" if refused and truth else "fp" if refused else "fn" if truth else "tn")] += 1
    total = collections.Counter()
    for (by, outcome), n in counts.items():
        total[outcome] += n
    precision = total["tp"] / (total["tp"] + total["fp"])
    recall = total["tp"] / (total["tp"] + total["fn"])
    by_patterns = sum(n for (by, _), n in counts.items() if by == "patterns")
    false_refusals = sum(refused and reply["label"] != "refusal" for reply, (refused, _) in zip(replies, credulous))
    with capsys.disabled():
        print(f"\nrefusal detector on {len(replies)} labelled replies: precision {precision:.3f}, recall "
              f"{recall:.3f}; patterns decided {by_patterns}, the classifier {len(replies) - by_patterns}; "
              f"{dict(sorted(counts.items()))}; believed from 0.5, the classifier would call "
              f"{false_refusals} compliances refusals")
    assert precision >= 0.9 and recall >= 0.9, dict(counts)
