"""A model's profile options are checked by kind and type before its weights load: a wrong one fails
that model with the reason, never read as something else (8.0 is not 8, "POSITIVE" is not a list)."""
import pytest

from aiqa_fixtures import write_profile
from service import create_app
from service.config import from_environ
from service.models import DERIVED, LOADERS
from service.models.options import BY_TASK, DERIVED_TASKS, problems
from service.registry import read_profile


def test_the_catalogue_names_every_kind_and_only_those():
    assert set(BY_TASK) == set(LOADERS) | set(DERIVED)
    assert DERIVED_TASKS == set(DERIVED)


@pytest.mark.parametrize("profile", ["default", "gpu"])
def test_the_shipped_profiles_options_are_all_known_and_well_typed(profile):
    for spec in read_profile(profile, None)["models"]:
        assert problems(spec.task, spec.options) == [], spec.name


@pytest.mark.parametrize("task, options, wanted", [
    ("embeddings", {"max_batch_size": 8.0}, "option max_batch_size must be a positive integer, not 8.0"),
    ("embeddings", {"max_batch_size": True}, "must be a positive integer, not True"),
    ("embeddings", {"max_batch_size": 0}, "must be a positive integer, not 0"),
    ("embeddings", {"max_batch_size": "8"}, "must be a positive integer, not '8'"),
    ("embeddings", {"max_gap_ms": True}, "option max_gap_ms must be a number, 0 or more, not True"),
    ("embeddings", {"max_wait_ms": -1}, "max_wait_ms must be a number, 0 or more"),
    ("embeddings", {"max_wait_ms": float("nan")}, "max_wait_ms must be a number, 0 or more"),
    ("embeddings", {"max_queue": 2.5}, "max_queue must be a positive integer"),
    ("embeddings", {"max_wait_sm": 5}, "'max_wait_sm' is not one that embeddings models read (did you mean max_wait_ms?)"),
    ("embeddings", {"doc_stride": 64}, "'doc_stride' is not one that embeddings models read"),
    ("causal-lm", {"chat_template": "false"}, "option chat_template must be true or false, not 'false'"),
    ("causal-lm", {"chat_template": 0}, "chat_template must be true or false, not 0"),
    ("causal-lm", {"generation_backend": "vllm"}, "generation_backend must be one of transformers, llama.cpp, auto"),
    ("causal-lm", {"max_tokens_in_flight": 1e4}, "max_tokens_in_flight must be a positive integer, not 10000.0"),
    ("text-to-image", {"cpu_offload": "yes"}, "cpu_offload must be true or false"),
    ("text-to-image", {"guidance_scale": "7.5"}, "guidance_scale must be a number, 0 or more"),
    ("question-answering", {"doc_stride": 12.5}, "doc_stride must be a positive integer"),
    ("zero-shot-classification", {"labels": "POSITIVE"}, "labels must be a non-empty list of distinct label names"),
    ("zero-shot-classification", {"labels": ["a", "a"]}, "labels must be a non-empty list of distinct label names"),
    ("zero-shot-classification", {"labels": {"POSITIVE": 1}}, "or a mapping of label name to word"),
    ("zero-shot-classification", {"labels": ["a"], "max_batch_size": 4}, "'max_batch_size' is not one that "
                                                                          "zero-shot-classification models read"),
    ("embeddings", ["max_batch_size", 8], "options must be a mapping of option to value, not list"),
])
def test_a_wrong_option_is_named_with_what_it_must_be(task, options, wanted):
    found = problems(task, options)
    assert len(found) == 1 and wanted in found[0], found


@pytest.mark.parametrize("task, options", [
    ("embeddings", {"max_batch_size": 8, "max_wait_ms": 0, "max_gap_ms": 2.5, "max_queue": 64, "device": "cpu",
                    "dtype": "float32", "max_seq_length": 128}),
    ("causal-lm", {"chat_template": False, "generation_backend": "llama.cpp", "max_length": 512}),
    ("zero-shot-classification", {"labels": {"POSITIVE": "positive"}, "prompt": "Text: {text}"}),
    ("text-to-image", {"guidance_scale": 0, "steps": 1, "attention_slicing": True}),
])
def test_options_of_the_right_kind_and_type_pass(task, options):
    assert problems(task, options) == []


@pytest.fixture(scope="module")
def app_with_wrong_options(tiny_models, tmp_path_factory):
    path = write_profile(tmp_path_factory.mktemp("p") / "options.yaml", [
        {"name": "lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}"},
        # Before the check, int(8.0) loaded this one, and "AB" made the labels "A" and "B".
        {"name": "float-batch", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}",
         "options": {"max_batch_size": 8.0}},
        {"name": "letters", "task": "zero-shot-classification", "base": "lm", "options": {"labels": "AB"}},
        {"name": "typo", "task": "causal-lm", "source": "dir:/nonexistent/weights", "options": {"max_wait_sm": 5}},
    ])
    return create_app({"MODELS": path, "LOAD_IN_BACKGROUND": False})


def test_a_model_with_a_wrong_option_fails_at_load_with_the_reason_and_the_others_serve(app_with_wrong_options):
    registry = app_with_wrong_options.extensions["aiqa.registry"]
    ready, missing = registry.readiness()
    assert not ready and set(missing) == {"float-batch", "letters", "typo"}
    assert "option max_batch_size must be a positive integer, not 8.0" in missing["float-batch"]
    assert "option labels must be a non-empty list" in missing["letters"]
    # The options are checked before the weights: the missing directory is not what is reported.
    assert "did you mean max_wait_ms?" in missing["typo"] and "nonexistent" not in missing["typo"]
    assert registry.get("lm", "perplexity").name == "lm"
    readyz = app_with_wrong_options.test_client().get("/readyz")
    assert readyz.status_code == 503 and "max_batch_size" in readyz.get_json()["missing"]["float-batch"]


@pytest.mark.parametrize("value, wanted", [("off", False), ("0", False), ("no", False), ("yes", True), (" On ", True)])
def test_a_boolean_setting_reads_the_words_for_true_and_false(value, wanted):
    assert from_environ({"AIQA_BATCHING": value}) == {"BATCHING": wanted}


@pytest.mark.parametrize("variable, value", [("AIQA_BATCHING", "ture"), ("AIQA_BATCHING", "2"),
                                             ("AIQA_MAX_WAIT_MS", "nan"), ("AIQA_MAX_WAIT_MS", "inf"),
                                             ("AIQA_MAX_QUEUE", "8.0")])
def test_a_setting_that_is_not_its_type_is_refused_naming_the_variable(variable, value):
    with pytest.raises(ValueError, match=variable):
        from_environ({variable: value})
