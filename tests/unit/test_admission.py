"""Admission by cost (service/admission.py): the fit of the rates timed at warm-up, and requests over
the budget refused at once (413 over-budget) while those under it run, on tiny real models."""
import pickle
import random
import time

import numpy as np
import pytest

from service.admission import CostModel
from service.contract import OverBudget
from service.observability import BATCH_SIZE

LIMIT_S = 0.3


def calibrated(points) -> CostModel:
    cost = CostModel("m", "work", "token")
    with cost.calibrating():
        for batches, units, seconds in points:
            cost.observe(batches, units, seconds)
    return cost


@pytest.mark.parametrize("seed", range(5))
def test_the_fit_is_least_squares_on_batches_and_units(seed):
    rng = random.Random(seed)
    per_batch, per_unit = rng.uniform(0.001, 0.1), rng.uniform(1e-5, 1e-3)
    points = [(b, u, per_batch * b + per_unit * u + rng.gauss(0, 1e-4))
              for b, u in {(rng.randint(1, 8), rng.randint(1, 5000)) for _ in range(12)}]
    cost = calibrated(points)
    design = np.array([[b, u] for b, u, _ in points], dtype=float)
    expected, *_ = np.linalg.lstsq(design, np.array([t for _, _, t in points]), rcond=None)
    assert cost.seconds_per_batch == pytest.approx(expected[0], rel=1e-6)
    assert cost.seconds_per_unit == pytest.approx(expected[1], rel=1e-6)
    assert cost.estimate(3, 1000) == pytest.approx(3 * expected[0] + 1000 * expected[1], rel=1e-6)


def test_repeated_timings_keep_the_fastest_and_odd_fits_charge_per_unit():
    cost = calibrated([(1, 10, 0.5), (1, 10, 0.1), (1, 1000, 1.1)])  # 0.5: a busy moment, dropped
    slope = (1.1 - 0.1) / (1000 - 10)  # two points: the line through them
    assert cost.seconds_per_unit == pytest.approx(slope, rel=1e-6)
    assert cost.seconds_per_batch == pytest.approx(0.1 - 10 * slope, rel=1e-6)
    # Larger work timed faster than smaller: no negative rate, all of it charged per unit.
    odd = calibrated([(1, 10, 0.2), (1, 1000, 0.1)])
    assert odd.seconds_per_batch == 0 and odd.seconds_per_unit > 0
    single = calibrated([(1, 100, 0.2)])
    assert single.seconds_per_batch == 0 and single.seconds_per_unit == pytest.approx(0.002)


def test_only_timings_taken_while_calibrating_count_and_an_untimed_kind_admits_everything():
    cost = CostModel("m", "work", "token")
    cost.observe(1, 100, 1.0)
    cost.fit()
    assert not cost.fitted and cost.estimate(1, 10**9) is None
    cost.admit(1, 10**9, 0.001)  # nothing raised
    cost = calibrated([(1, 100, 0.1), (1, 200, 0.2)])
    cost.observe(1, 100, 50.0)  # after warm-up: the rates stay as timed
    assert cost.estimate(1, 100) == pytest.approx(0.1)


def test_over_budget_says_by_how_much_and_crosses_the_model_processs_socket():
    cost = calibrated([(1, 100, 0.1), (1, 200, 0.2)])
    cost.admit(1, 300, 0.3)  # 0.3 s exactly: admitted
    with pytest.raises(OverBudget) as raised:
        cost.admit(2, 400, 0.3, field="max_new_tokens")
    error = raised.value
    assert (error.field, error.units, error.unit, error.limit_s) == ("max_new_tokens", 400, "token", 0.3)
    assert error.estimate_s == pytest.approx(0.4) and error.too_large
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is OverBudget and vars(back) == vars(error) and str(back) == str(error)


# -- through the app, on tiny models ---------------------------------------------------------------
@pytest.fixture(scope="module")
def app(tiny_models, tmp_path_factory):
    from aiqa_fixtures import write_profile
    from service import create_app
    profile = write_profile(tmp_path_factory.mktemp("admission") / "tiny.yaml", [
        {"name": "tiny-lm", "task": "causal-lm", "source": f"dir:{tiny_models['gpt2-lm']}",
         "options": {"max_batch_size": 4, "dtype": "float32"}},
        {"name": "tiny-classifier", "task": "text-classification",
         "source": f"dir:{tiny_models['bert-classifier']}", "options": {"max_batch_size": 4, "dtype": "float32"}},
    ])
    return create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "STORE": False, "MAX_WORK_S": LIMIT_S})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def batches_run(model: str) -> float:
    return sum(sample.value for metric in BATCH_SIZE.collect() for sample in metric.samples
               if sample.name.endswith("_count") and sample.labels.get("model") == model)


def test_every_model_shows_its_budget(client):
    models = {model["name"]: model for model in client.get("/v1/models").json["models"]}
    lm, classifier = models["tiny-lm"]["budget"], models["tiny-classifier"]["budget"]
    assert lm["limit_s"] == classifier["limit_s"] == LIMIT_S
    assert {"logprobs", "generate"} <= set(lm["work"]) and set(classifier["work"]) == {"classify"}
    for rates in [lm["work"]["logprobs"], lm["work"]["generate"], classifier["work"]["classify"]]:
        assert rates["seconds_per_unit"] > 0 and rates["seconds_per_batch"] >= 0
        assert rates["max_units"] == int((LIMIT_S - rates["seconds_per_batch"]) / rates["seconds_per_unit"])
    assert lm["work"]["generate"]["unit"] == "new token" and lm["work"]["logprobs"]["unit"] == "token"


def test_a_request_over_the_budget_is_refused_at_once_and_runs_nothing(client):
    body = {"model": "tiny-lm", "inputs": ["The cat sat on the mat and looked at the garden. " * 8] * 64}
    before = batches_run("tiny-lm")
    elapsed = []  # the fastest of three: a scheduling stall of the test machine is not the refusal's
    for _ in range(3):
        started = time.perf_counter()
        response = client.post("/v1/perplexity", json=body)
        elapsed.append(time.perf_counter() - started)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["type"] == "urn:aiqa:problem:over-budget" and problem["limit_s"] == LIMIT_S
    assert problem["estimate_s"] > LIMIT_S and problem["unit"] == "token" and problem["units"] > 0
    assert list(problem["errors"]) == ["inputs"]
    assert min(elapsed) < 0.1, elapsed
    assert batches_run("tiny-lm") == before  # not one forward pass


def test_the_largest_request_under_the_budget_completes(client):
    """Bisect the number of inputs: the largest request admitted answers 200, one more input is 413."""
    text = "The cat sat on the mat and looked at the garden. " * 4

    def status(n: int) -> int:
        return client.post("/v1/perplexity", json={"model": "tiny-lm", "inputs": [text] * n}).status_code

    low, high = 1, 256
    assert status(low) == 200 and status(high) == 413
    while high - low > 1:
        middle = (low + high) // 2
        code = status(middle)
        assert code in (200, 413), code
        low, high = (middle, high) if code == 200 else (low, middle)
    assert status(low) == 200 and status(low + 1) == 413


def test_zero_shot_work_grows_with_the_labels(client, app, monkeypatch):
    monkeypatch.setattr(app.extensions["aiqa.registry"].get("tiny-lm", "classify").batch_settings, "max_work_s", 1e-6)

    def units(labels):
        response = client.post("/v1/classify", json={"model": "tiny-lm", "inputs": ["good film"] * 4,
                                                     "candidate_labels": labels})
        assert response.status_code == 413, response.json
        return response.json["units"]

    assert units(["a", "b", "c", "d"]) > 1.8 * units(["a", "b"])


def test_generation_over_the_budget_names_max_new_tokens(client, app, monkeypatch):
    monkeypatch.setattr(app.extensions["aiqa.registry"].get("tiny-lm", "generate").batch_settings, "max_work_s", 1e-6)
    response = client.post("/v1/generate", json={"model": "tiny-lm", "prompt": "Hi", "max_new_tokens": 8})
    assert response.status_code == 413 and response.json["type"] == "urn:aiqa:problem:over-budget"
    assert list(response.json["errors"]) == ["max_new_tokens"]
    assert response.json["units"] == 8 and response.json["unit"] == "new token"
