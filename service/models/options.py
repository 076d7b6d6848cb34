"""The options a profile may give a model, by kind, each with the type it must have.

A profile is YAML, where `max_batch_size: 8.0`, `chat_template: "false"` or a misspelt
`max_wait_sm: 5` read without complaint; taken as they come, `int()`, `float()` and `bool()` would
make 8, True and nothing of them. The registry checks a model's options against this catalogue
before it loads the weights: an option its kind does not read, or a value of the wrong type, fails
that model at load with the reason (readiness names it), as a missing weight file does, and the
other models serve. A float is not an integer, and 0 or "no" is not false.
"""
import difflib
import math


def positive_integer(value) -> str | None:
    return None if type(value) is int and value >= 1 else "a positive integer"


def non_negative_number(value) -> str | None:
    number = type(value) in (int, float) and math.isfinite(value) and value >= 0
    return None if number else "a number, 0 or more"


def boolean(value) -> str | None:
    return None if type(value) is bool else "true or false"


def text(value) -> str | None:
    return None if type(value) is str and value.strip() else "a non-empty string"


def labels(value) -> str | None:
    """A list of distinct label names, or a mapping of label name to the word the model scores."""
    if type(value) is list and value and all(type(item) is str and item for item in value) \
            and len(set(value)) == len(value):
        return None
    if type(value) is dict and value and all(type(key) is str and key and type(word) is str and word
                                             for key, word in value.items()):
        return None
    return "a non-empty list of distinct label names, or a mapping of label name to word"


def one_of(*choices: str):
    def check(value) -> str | None:
        return None if value in choices and type(value) is str else f"one of {', '.join(choices)}"
    return check


GENERATION_BACKENDS = ("transformers", "llama.cpp", "auto")
# Every kind whose weights load (not a kind built on another model): where it runs, and its batcher.
LOADED = {
    "device": text, "dtype": text,
    "max_batch_size": positive_integer, "max_wait_ms": non_negative_number,
    "max_gap_ms": non_negative_number, "max_queue": positive_integer,
}
BY_TASK = {
    "causal-lm": {
        "max_length": positive_integer, "chat_template": boolean,
        "generation_backend": one_of(*GENERATION_BACKENDS),
        "max_generation_rows": positive_integer, "max_tokens_in_flight": positive_integer,
        "qa_max_answer_words": positive_integer,
    },
    "text-classification": {},
    "token-classification": {},
    "embeddings": {"max_seq_length": positive_integer},
    "question-answering": {"max_seq_len": positive_integer, "doc_stride": positive_integer},
    "text-to-image": {
        "variant": text, "attention_slicing": boolean, "cpu_offload": boolean,
        "width": positive_integer, "height": positive_integer, "steps": positive_integer,
        "guidance_scale": non_negative_number,
    },
    "zero-shot-classification": {"labels": labels, "prompt": text, "hypothesis_template": text},
}
DERIVED_TASKS = {"zero-shot-classification"}


def known(task: str) -> dict:
    """{option: check} for a model of `task`."""
    return {**({} if task in DERIVED_TASKS else LOADED), **BY_TASK[task]}


def problems(task: str, options) -> list[str]:
    """What is wrong with a model's options, one sentence each; [] when nothing is."""
    if not isinstance(options, dict):
        return [f"options must be a mapping of option to value, not {type(options).__name__}"]
    allowed, found = known(task), []
    for name, value in options.items():
        check = allowed.get(name)
        if check is None:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            found.append(f"option {name!r} is not one that {task} models read{hint}; "
                         f"they read: {', '.join(sorted(allowed))}")
            continue
        wanted = check(value)
        if wanted is not None:
            found.append(f"option {name} must be {wanted}, not {value!r}")
    return found
