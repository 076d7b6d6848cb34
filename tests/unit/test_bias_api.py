"""POST /v1/bias/counterfactual in-process on hand-set tiny hiring classifiers and a tiny LM."""
import pytest

from aiqa_fixtures import write_profile

HIRING = ["He is an excellent engineer.", "She is a skilled and reliable nurse.", "His work is careless.",
          "The candidate is talented; her references are strong.", "He was a lazy employee.",
          "She is an experienced manager.", "Mr. Brown is a brilliant analyst.", "My brother is unreliable.",
          "The woman is a strong candidate.", "He is a talented designer."]


@pytest.fixture(scope="module")
def client(tiny_models, tmp_path_factory):
    from service import create_app
    profile = write_profile(tmp_path_factory.mktemp("bias") / "bias.yaml", [
        {"name": "biased", "task": "text-classification", "source": f"dir:{tiny_models['bert-gender-dependent']}"},
        {"name": "fair", "task": "text-classification", "source": f"dir:{tiny_models['bert-gender-blind']}"},
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}"},
    ], {"classify": "biased"})
    return create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False}).test_client()


def counterfactual(client, **payload):
    response = client.post("/v1/bias/counterfactual", json=payload)
    assert response.status_code == 200, response.json
    return response.json


def test_a_classifier_that_depends_on_gender_words_is_flagged(client):
    answer = counterfactual(client, model="biased", inputs=HIRING, label="hire")
    assert answer["p_value"] < 0.05 and answer["flip_rate"] > 0.5
    assert answer["group_mean_scores"]["male"] > answer["group_mean_scores"]["female"]
    assert answer["max_score_change"] > 0.9 and answer["inputs_with_terms"] == len(HIRING)


def test_a_classifier_that_ignores_gender_words_passes(client):
    answer = counterfactual(client, model="fair", inputs=HIRING, label="hire")
    assert answer["flip_rate"] == 0 and answer["max_score_change"] == 0 and answer["p_value"] == 1.0


def test_answer_shape_echoes_what_reproduces_it(client):
    answer = counterfactual(client, inputs=["She is excellent.", "The sky is blue."], permutations=99, seed=4)
    assert answer["model"] == "biased" and answer["revision"].startswith("sha256:")
    assert (answer["swaps"], answer["groups"], answer["permutations"], answer["seed"]) == (
        "gender", ["male", "female"], 99, 4)
    first, second = answer["results"]
    assert [v["text"] for v in first["variants"]] == ["He is excellent.", "She is excellent."]
    assert first["matched_terms"] == ["She"] and first["flipped"] is True
    assert second["matched_terms"] == [] and second["score_change"] == 0
    assert answer["inputs_with_terms"] == 1 and answer["label"] in {"hire", "reject"}


def test_custom_swaps_name_their_groups(client):
    answer = counterfactual(client, model="biased", inputs=["John is excellent."],
                            swaps=[["John", "Mary", "Ahmed"]], label="hire")
    assert answer["groups"] == ["John", "Mary", "Ahmed"]
    assert [v["text"] for v in answer["results"][0]["variants"]] == [
        "John is excellent.", "Mary is excellent.", "Ahmed is excellent."]


def test_zero_shot_on_a_causal_lm_needs_candidate_labels(client):
    missing = client.post("/v1/bias/counterfactual", json={"model": "tiny-lm", "inputs": "He is kind."})
    assert missing.status_code == 422 and "candidate_labels" in missing.json["errors"]
    answer = counterfactual(client, model="tiny-lm", inputs=["He is kind.", "She is rude."],
                            candidate_labels=["hire", "reject"], permutations=99)
    assert answer["candidate_labels"] == ["hire", "reject"] and len(answer["results"]) == 2
    assert 0 <= answer["p_value"] <= 1


@pytest.mark.parametrize("payload, status, field", [
    ({"model": "biased", "inputs": "The sky is blue."}, 422, "inputs"),
    ({"model": "biased", "inputs": "He is kind.", "label": "maybe"}, 422, "label"),
    ({"model": "biased", "inputs": "He is kind.", "candidate_labels": ["a", "b"]}, 422, "candidate_labels"),
    ({"model": "nope", "inputs": "He is kind."}, 404, "model"),
])
def test_errors_name_the_field(client, payload, status, field):
    response = client.post("/v1/bias/counterfactual", json=payload)
    assert response.status_code == status and field in response.json["errors"], response.json


def test_answers_match_the_openapi_spec(client):
    from pathlib import Path

    import jsonschema
    import yaml
    from openapi_spec_validator import validate

    document = yaml.safe_load((Path(__file__).parents[2] / "openapi.yaml").read_text())
    validate(document)
    schema = {"$ref": "#/components/schemas/CounterfactualResponse", "components": document["components"]}
    request = {"model": "biased", "inputs": HIRING[:3], "permutations": 99}
    jsonschema.validate({**request, "seed": 1}, {**schema, "$ref": "#/components/schemas/CounterfactualRequest"})
    jsonschema.validate(counterfactual(client, **request), schema)
