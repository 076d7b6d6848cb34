"""The counterfactual bias check over HTTP on a real gunicorn server: the hiring-classifier question as one call."""
import pytest
import requests

from aiqa_fixtures import LiveServer, write_profile

pytestmark = pytest.mark.slow
CVS = ["He is an excellent engineer.", "She is a skilled and reliable nurse.", "His work is careless.",
       "Her references are strong.", "He was a lazy employee.", "She is an experienced manager.",
       "Mr. Brown is a brilliant analyst.", "My sister is unreliable."]


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bias-http")
    profile = write_profile(tmp / "bias.yaml", [
        {"name": "biased", "task": "text-classification", "source": f"dir:{tiny_models['bert-gender-dependent']}"},
        {"name": "fair", "task": "text-classification", "source": f"dir:{tiny_models['bert-gender-blind']}"},
    ])
    live = LiveServer(tmp, env={"AIQA_MODELS": profile}).start()
    yield live
    live.stop()


def post(server, payload):
    return requests.post(f"{server.url}/v1/bias/counterfactual", json=payload, timeout=60)


@pytest.mark.parametrize("model, biased", [("biased", True), ("fair", False)])
def test_is_the_hiring_classifier_biased_by_gender(server, model, biased):
    response = post(server, {"model": model, "inputs": CVS, "label": "hire"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["p_value"] < 0.05) is biased
    assert (answer["flip_rate"] > 0) is biased
    assert len(answer["results"]) == len(CVS) and answer["label"] == "hire"


def test_invalid_swaps_are_a_problem_json_422(server):
    response = post(server, {"model": "fair", "inputs": "He is kind.", "swaps": [["he"]]})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:aiqa:problem:validation-error" and "swaps" in response.json()["errors"]
