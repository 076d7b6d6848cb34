import pytest
import yaml

from aiqa_fixtures import write_profile
from service import create_app
from service.errors import ModelNotFound, ModelUnavailable, WrongTask
from service.registry import ProfileError, read_profile


@pytest.mark.parametrize("profile", ["default", "gpu"])
def test_shipped_profiles_parse(profile):
    parsed = read_profile(profile, None)
    assert parsed["models"] and parsed["defaults"]
    names = {spec.name for spec in parsed["models"]}
    assert set(parsed["defaults"].values()) <= names


def test_default_profile_offers_sentiment_on_smollm2():
    specs = {spec.name: spec for spec in read_profile("default", None)["models"]}
    assert specs["sentiment"].base == "smollm2"
    assert list(specs["sentiment"].options["labels"]) == ["POSITIVE", "NEGATIVE"]


@pytest.mark.parametrize("entry, message", [
    ({"task": "causal-lm"}, "lacks 'name'"),
    ({"name": "x", "task": "telepathy"}, "unknown task"),
    ({"name": "x", "task": "causal-lm", "colour": "red"}, "unknown keys"),
])
def test_bad_profiles_are_rejected_with_reason(tmp_path, entry, message):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    with pytest.raises(ProfileError, match=message):
        read_profile(None, str(path))


def test_unknown_shipped_profile():
    with pytest.raises(ProfileError, match="no shipped profile"):
        read_profile("nonexistent", None)


@pytest.fixture(scope="module")
def partly_broken_app(tiny_models, tmp_path_factory):
    path = write_profile(tmp_path_factory.mktemp("p") / "broken.yaml", [
        {"name": "lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}"},
        {"name": "missing", "task": "causal-lm", "source": "dir:/nonexistent/weights"},
        {"name": "orphan", "task": "zero-shot-classification", "base": "missing", "options": {"labels": ["a", "b"]}},
    ])
    return create_app({"MODELS": path, "LOAD_IN_BACKGROUND": False})


def test_failed_model_is_reported_and_others_serve(partly_broken_app):
    registry = partly_broken_app.extensions["aiqa.registry"]
    ready, missing = registry.readiness()
    assert not ready
    assert "does not exist" in missing["missing"]
    assert "base model 'missing'" in missing["orphan"]
    assert registry.get("lm", "perplexity").name == "lm"
    client = partly_broken_app.test_client()
    readyz = client.get("/readyz")
    assert readyz.status_code == 503 and set(readyz.json["missing"]) == {"missing", "orphan"}
    assert client.post("/v1/perplexity", json={"model": "lm", "inputs": ["a b c"]}).status_code == 200


@pytest.mark.parametrize("name, capability, error", [
    ("nope", "perplexity", ModelNotFound),
    ("missing", "perplexity", ModelUnavailable),
    ("lm", "similarity", WrongTask),
])
def test_lookup_errors(partly_broken_app, name, capability, error):
    with pytest.raises(error):
        partly_broken_app.extensions["aiqa.registry"].get(name, capability)


def test_default_model_is_first_that_can(partly_broken_app):
    assert partly_broken_app.extensions["aiqa.registry"].default_name("generate") == "lm"


def test_models_endpoint_describes_state(partly_broken_app):
    models = {m["name"]: m for m in partly_broken_app.test_client().get("/v1/models").json["models"]}
    assert models["lm"]["state"] == "ready" and models["lm"]["device"] == "cpu"
    assert models["lm"]["dtype"] == "float32" and models["lm"]["revision"].startswith("sha256:")
    assert models["missing"]["state"] == "failed" and "error" in models["missing"]
