import pytest
from marshmallow import ValidationError

from service import create_app
from service.errors import PayloadTooLarge
from service.schemas import classify_schema, generate_schema, perplexity_schema, similarity_schema


@pytest.fixture(autouse=True)
def app_context():
    app = create_app({"LOAD_MODELS": False, "MAX_ITEMS": 4, "MAX_TEXT_CHARS": 50, "MAX_NEW_TOKENS": 100})
    with app.app_context():
        yield


@pytest.mark.parametrize("schema, payload, expected", [
    (classify_schema, {"inputs": "hi"}, {"inputs": ["hi"]}),
    (classify_schema, {"inputs": ["a", "b"], "top_k": 1}, {"inputs": ["a", "b"], "top_k": 1}),
    (perplexity_schema, {"inputs": ["a b"], "max_length": 8, "stride": 4},
     {"inputs": ["a b"], "max_length": 8, "stride": 4}),
    (similarity_schema, {"pairs": [["a", "b"]]}, {"pairs": [("a", "b")]}),
])
def test_valid_payloads(schema, payload, expected):
    assert schema.load(payload) == expected


def test_generate_defaults():
    assert generate_schema.load({"prompt": "hi"}) == {
        "prompt": "hi", "max_new_tokens": 64, "temperature": 0.0, "top_p": 1.0}


@pytest.mark.parametrize("schema, payload, field", [
    (classify_schema, {}, "inputs"),
    (classify_schema, {"inputs": []}, "inputs"),
    (classify_schema, {"inputs": ""}, "inputs"),
    (classify_schema, {"inputs": "   "}, "inputs"),
    (classify_schema, {"inputs": 5}, "inputs"),
    (classify_schema, {"inputs": ["ok", 3]}, "inputs"),
    (classify_schema, {"inputs": "x" * 51}, "inputs"),
    (classify_schema, {"inputs": "x", "top_k": 0}, "top_k"),
    (classify_schema, {"inputs": "x", "candidate_labels": ["a", "a"]}, "candidate_labels"),
    (classify_schema, {"inputs": "x", "candidate_labels": ["a"]}, "candidate_labels"),
    (classify_schema, {"inputs": "x", "hypothesis_template": "no slot"}, "hypothesis_template"),
    (classify_schema, {"inputs": "x", "surprise": 1}, "surprise"),
    (perplexity_schema, {"inputs": ["x"], "max_length": 8, "stride": 8}, "stride"),
    (perplexity_schema, {"inputs": ["x"], "max_length": 1}, "max_length"),
    (generate_schema, {}, "prompt"),
    (generate_schema, {"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, "prompt"),
    (generate_schema, {"prompt": "a", "max_new_tokens": 101}, "max_new_tokens"),
    (generate_schema, {"prompt": "a", "max_new_tokens": 0}, "max_new_tokens"),
    (generate_schema, {"prompt": "a", "seed": -1}, "seed"),
    (generate_schema, {"prompt": "a", "temperature": 3}, "temperature"),
    (generate_schema, {"messages": [{"role": "robot", "content": "b"}]}, "messages"),
    (similarity_schema, {"pairs": [["a"]]}, "pairs"),
    (similarity_schema, {"pairs": "a"}, "pairs"),
])
def test_invalid_payloads_name_the_field(schema, payload, field):
    with pytest.raises(ValidationError) as info:
        schema.load(payload)
    assert field in info.value.messages


def test_too_many_items_is_413_not_422():
    with pytest.raises(PayloadTooLarge) as info:
        classify_schema.load({"inputs": ["a"] * 5})
    assert info.value.status == 413 and "inputs" in info.value.errors


@pytest.mark.parametrize("value", [0, 1, "true", "false", None, 1.0])
def test_a_boolean_field_takes_true_or_false_only(value):
    from service.schemas import ner_schema, qa_schema
    for schema, payload, field in [
        (qa_schema, {"question": "q", "context": "c", "handle_impossible_answer": value}, "handle_impossible_answer"),
        (ner_schema, {"inputs": ["x"], "word_labels": value}, "word_labels"),
    ]:
        with pytest.raises(ValidationError) as raised:
            schema.load(payload)
        assert field in raised.value.messages
    assert qa_schema.load({"question": "q", "context": "c", "handle_impossible_answer": True})["handle_impossible_answer"]


@pytest.mark.parametrize("field, value", [
    ("seed", 2.5e-42), ("seed", 2.5), ("seed", "3"), ("seed", True), ("max_new_tokens", 8.5),
    ("temperature", "0.5"), ("temperature", True), ("top_p", None),
])
def test_a_number_field_takes_a_json_number_of_its_kind_only(field, value):
    """A fraction is not silently truncated into an integer field, a string or a boolean is no number."""
    with pytest.raises(ValidationError) as raised:
        generate_schema.load({"prompt": "hi", field: value})
    assert field in raised.value.messages
    loaded = generate_schema.load({"prompt": "hi", "seed": 3.0, "max_new_tokens": 8, "temperature": 1})
    # 3.0 is the integer 3 in JSON's (and JSON Schema's) data model: taken as such, exactly.
    assert loaded["seed"] == 3 and type(loaded["seed"]) is int and loaded["temperature"] == 1.0
