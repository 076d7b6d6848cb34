"""Model-backed metrics use the registry's warm models, and equal the model endpoints' numbers."""
import ast

import pytest

from service import scoring
from service.scoring import loader

pytestmark = pytest.mark.slow
TEXTS = ["The cat sat on the mat.", "Colourless green ideas sleep furiously.", "Paris is the capital of France."]


@pytest.fixture(scope="module")
def client(default_app):
    with default_app.app_context():
        yield default_app.test_client()


def test_perplexity_metric_equals_the_perplexity_endpoint(client):
    endpoint = client.post("/v1/perplexity", json={"inputs": TEXTS, "max_length": 64, "stride": 32}).get_json()
    metric = client.post("/v1/metrics/perplexity", json={
        "predictions": TEXTS, "params": {"max_length": 64, "stride": 32},
        "confidence": {"resamples": 200, "seed": 1}}).get_json()
    assert (metric["model"], metric["revision"]) == (endpoint["model"], endpoint["revision"])
    for key in ("perplexities", "mean_perplexity", "token_counts", "max_length", "stride"):
        assert metric["result"][key] == pytest.approx(endpoint[key]), key
    interval = metric["confidence_intervals"]["mean_perplexity"]
    assert interval["low"] <= metric["result"]["mean_perplexity"] <= interval["high"]


def test_semantic_similarity_metric_equals_the_similarity_endpoint(client):
    references = ["A cat is sitting on a mat.", "Sleep is good for ideas.", "France's capital is Paris."]
    endpoint = client.post("/v1/similarity", json={"pairs": [list(p) for p in zip(TEXTS, references)]}).get_json()
    metric = client.post("/v1/metrics/semantic_similarity", json={
        "predictions": TEXTS, "references": references}).get_json()
    assert metric["model"] == endpoint["model"]
    assert metric["result"]["scores"] == pytest.approx(endpoint["scores"])
    assert metric["result"]["semantic_similarity"] == pytest.approx(sum(endpoint["scores"]) / 3)


def test_the_model_is_the_registrys_own_object(default_app):
    """The metric receives the warm registry model; it never loads one."""
    seen = []
    registry = default_app.extensions["aiqa.registry"]
    model = registry.get(None, "similarity")
    original = model.similarity
    model.similarity = lambda pairs: seen.append(pairs) or original(pairs)
    try:
        with default_app.app_context():
            scoring.compute_one(registry, "semantic_similarity", {"predictions": ["a b"], "references": ["a c"]})
    finally:
        del model.similarity
    assert seen == [[("a b", "a c")]]


def test_model_metric_errors_come_from_the_registry_and_the_model(client):
    unknown = client.post("/v1/metrics/perplexity", json={"predictions": ["text"], "params": {"model": "nope"}})
    assert unknown.status_code == 404
    wrong_task = client.post("/v1/metrics/perplexity", json={"predictions": ["text"], "params": {"model": "minilm"}})
    assert wrong_task.status_code == 422
    too_short = client.post("/v1/metrics/perplexity", json={"predictions": ["Hello there.", "a"]})
    assert too_short.status_code == 422 and "predictions[1]" in too_short.get_json()["detail"]
    too_long = client.post("/v1/metrics/perplexity", json={"predictions": ["text"], "params": {"max_length": 10**6}})
    assert too_long.status_code == 422


def test_model_metric_modules_import_no_model_code():
    for name in ("perplexity", "semantic_similarity"):
        tree = ast.parse((loader.METRICS_DIR / name / f"{name}.py").read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names}
        assert imported == {"math", "datasets", "evaluate"}
        assert "from_pretrained" not in ast.unparse(tree)
