import pytest

from service import create_app
from service.config import DEFAULTS, from_environ


def test_environment_overrides_are_typed():
    overrides = from_environ({"AIQA_MAX_ITEMS": "7", "AIQA_LOAD_MODELS": "false", "AIQA_PROFILE": "gpu",
                              "OTHER": "ignored"})
    assert overrides == {"MAX_ITEMS": 7, "LOAD_MODELS": False, "PROFILE": "gpu"}


def test_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="AIQA_MAX_ITEMS"):
        from_environ({"AIQA_MAX_ITEMS": "many"})


def test_create_app_reads_environment_when_called_not_at_import(monkeypatch):
    monkeypatch.setenv("AIQA_MAX_ITEMS", "3")
    app = create_app({"LOAD_MODELS": False})
    assert app.config["MAX_ITEMS"] == 3
    monkeypatch.setenv("AIQA_MAX_ITEMS", "5")
    assert create_app({"LOAD_MODELS": False}).config["MAX_ITEMS"] == 5


def test_test_config_wins_over_environment(monkeypatch):
    monkeypatch.setenv("AIQA_MAX_ITEMS", "3")
    assert create_app({"LOAD_MODELS": False, "MAX_ITEMS": 9}).config["MAX_ITEMS"] == 9


def test_defaults_apply_and_cache_dir_is_expanded():
    app = create_app({"LOAD_MODELS": False})
    assert app.config["MAX_TEXT_CHARS"] == DEFAULTS["MAX_TEXT_CHARS"]
    assert not app.config["CACHE_DIR"].startswith("~")


def test_batch_waits_come_from_the_environment_and_a_model_option_wins(monkeypatch):
    from service.contract import ModelSpec
    monkeypatch.setenv("AIQA_MAX_WAIT_MS", "20")
    monkeypatch.setenv("AIQA_MAX_GAP_MS", "3")
    registry = create_app({"LOAD_MODELS": False}).extensions["aiqa.registry"]
    settings = registry.batch_settings(ModelSpec("m", "embeddings"))
    assert (settings.max_wait_ms, settings.max_gap_ms) == (20.0, 3.0)
    settings = registry.batch_settings(ModelSpec("m", "embeddings", options={"max_gap_ms": 0}))
    assert (settings.max_wait_ms, settings.max_gap_ms) == (20.0, 0.0)
    assert (DEFAULTS["MAX_WAIT_MS"], DEFAULTS["MAX_GAP_MS"]) == (20.0, 3.0)
