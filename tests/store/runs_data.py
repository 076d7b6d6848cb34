"""Runs as the runner reports them, for the store's tests."""
import random


def case(case_id: str, status: str, similarity: float | None = None, kind: str = "functional") -> dict:
    attempt = {"passed": status == "passed", "reason": "ok" if status == "passed" else "too far",
               "prompt": f"prompt of {case_id}", "reply": f"reply to {case_id}"}
    if similarity is not None:
        attempt["similarity"] = similarity
    return {"id": case_id, "type": kind, "status": status, "message": "", "attempts": [] if status == "error"
            else [attempt]}


def run(statuses: list[str], *, suite: str = "checkout-bot", run_id: str | None = None, url: str = "http://bot/chat",
        labels: dict | None = None, started_at: str | None = None, seed: int = 0) -> dict:
    rng = random.Random(seed)
    body = {"suite": suite, "target": {"type": "http", "url": url},
            "cases": [case(f"case-{i:03d}", status, round(rng.random(), 4)) for i, status in enumerate(statuses)],
            "pass_rate": statuses.count("passed") / len(statuses), "seconds": 1.5}
    if run_id:
        body["id"] = run_id
    if labels:
        body["labels"] = labels
    if started_at:
        body["started_at"] = started_at
    return body
