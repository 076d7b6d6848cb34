"""Text-to-image through the registry: a tiny random Stable-Diffusion pipeline built by the project.

AIQA_TEST_DEVICE (cpu) and AIQA_TEST_DTYPE (float32) choose where it runs; scripts/gpu_check.py
runs this file on CUDA in float16.
"""
import base64
import io
import json
import os
import time

import numpy as np
import pytest
from PIL import Image

from aiqa_fixtures import ROOT, tiny_model_builder, write_profile

DEVICE = os.environ.get("AIQA_TEST_DEVICE", "cpu")
DTYPE = os.environ.get("AIQA_TEST_DTYPE", "float32")
BASE = {"model": "tiny-sd", "prompt": "a red bicycle leaning on a wall", "steps": 2}


@pytest.fixture(scope="module")
def image_app(tmp_path_factory):
    from service import create_app
    path = tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"), ["stable-diffusion"])["stable-diffusion"]
    tmp = tmp_path_factory.mktemp("images")
    profile = write_profile(tmp / "images.yaml", [{
        "name": "tiny-sd", "task": "text-to-image", "source": f"dir:{path}",
        "options": {"device": DEVICE, "dtype": DTYPE, "steps": 2, "guidance_scale": 5.0}}])
    app = create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "JOBS_DIR": str(tmp / "jobs")})
    ready, missing = app.extensions["aiqa.registry"].readiness()
    assert ready, missing
    return app


@pytest.fixture(scope="module")
def client(image_app):
    return image_app.test_client()


@pytest.fixture(scope="module")
def model(image_app):
    return image_app.extensions["aiqa.registry"].get("tiny-sd", "images")


def pngs(response) -> list[bytes]:
    assert response.status_code == 200, response.json
    return [base64.b64decode(image) for image in response.json["images"]]


def test_same_seed_same_bytes_other_seed_other_image(client):
    first = pngs(client.post("/v1/images", json={**BASE, "seed": 1}))
    again = pngs(client.post("/v1/images", json={**BASE, "seed": 1}))
    other = pngs(client.post("/v1/images", json={**BASE, "seed": 2}))
    assert first == again
    assert first != other


def test_png_decodes_at_the_requested_size_and_echoes_parameters(client):
    response = client.post("/v1/images", json={**BASE, "seed": 3, "width": 128, "height": 64})
    image = Image.open(io.BytesIO(pngs(response)[0]))
    assert image.format == "PNG" and image.size == (128, 64) and image.mode == "RGB"
    body = response.json
    assert (body["model"], body["seed"], body["width"], body["height"], body["steps"]) == ("tiny-sd", 3, 128, 64, 2)
    assert json.loads(image.text["aiqa"])["seed"] == 3  # the file itself says how to make it again


def test_num_images_returns_that_many_each_with_its_own_seed(client):
    response = client.post("/v1/images", json={**BASE, "seed": 10, "num_images": 3})
    images = pngs(response)
    assert len(images) == 3 and len(set(images)) == 3
    assert response.json["seeds"] == [10, 11, 12]
    single = pngs(client.post("/v1/images", json={**BASE, "seed": 11}))
    in_batch, alone = (np.asarray(Image.open(io.BytesIO(png)), dtype=int) for png in (images[1], single[0]))
    # The same pixels, made alone or in a batch: exactly on the CPU; CUDA's batched kernels round
    # differently (a level of 255 here and there in float16).
    assert np.abs(in_batch - alone).max() <= (0 if DEVICE == "cpu" else 2)


def test_seed_is_echoed_when_none_is_given_and_remakes_the_image(client):
    drawn = client.post("/v1/images", json=BASE)
    again = client.post("/v1/images", json={**BASE, "seed": drawn.json["seed"]})
    assert 0 <= drawn.json["seed"] < 2**32
    assert pngs(drawn) == pngs(again)


def test_accept_png_answers_with_the_png_itself(client):
    as_json = pngs(client.post("/v1/images", json={**BASE, "seed": 4}))[0]
    response = client.post("/v1/images", json={**BASE, "seed": 4}, headers={"Accept": "image/png"})
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == as_json
    assert (response.headers["X-Seed"], response.headers["X-Model"]) == ("4", "tiny-sd")


@pytest.mark.parametrize("change, field", [
    ({"width": 7}, "width"), ({"width": 100}, "width"), ({"height": 100000}, "height"),
    ({"steps": 0}, "steps"), ({"steps": 101}, "steps"), ({"prompt": ""}, "prompt"), ({"prompt": "  "}, "prompt"),
    ({"seed": -1}, "seed"), ({"seed": 2**32}, "seed"), ({"num_images": 0}, "num_images"),
    ({"num_images": 5}, "num_images"), ({"guidance_scale": -1}, "guidance_scale"), ({"colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field(client, change, field):
    response = client.post("/v1/images", json={**BASE, **change})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_missing_prompt_and_png_for_several_images_are_422(client):
    missing = client.post("/v1/images", json={"model": "tiny-sd"})
    several = client.post("/v1/images", json={**BASE, "num_images": 2}, headers={"Accept": "image/png"})
    assert missing.status_code == 422 and "prompt" in missing.json["errors"]
    assert several.status_code == 422 and "num_images" in several.json["errors"]


def test_steps_beyond_the_schedulers_training_schedule_are_422(image_app, client):
    image_app.config["MAX_IMAGE_STEPS"] = 5000
    try:
        response = client.post("/v1/images", json={**BASE, "steps": 1000})  # DDIM, offset 1: 999 at most
    finally:
        image_app.config["MAX_IMAGE_STEPS"] = 100
    assert response.status_code == 422 and "steps" in response.json["errors"]


def test_models_lists_the_pipeline_with_its_defaults(client):
    listed = {m["name"]: m for m in client.get("/v1/models").json["models"]}["tiny-sd"]
    assert listed["task"] == "text-to-image" and listed["pipeline"] == "StableDiffusionPipeline"
    assert listed["defaults"] == {"width": 64, "height": 64, "steps": 2, "guidance_scale": 5.0}


def test_step_callback_reports_every_step(model):
    seen = []
    model.generate(prompt="x", seeds=[0], width=64, height=64, steps=3, guidance_scale=5.0,
                   on_step=lambda step, steps: seen.append((step, steps)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_an_exception_in_the_step_callback_stops_the_run_and_frees_the_model(model):
    class Stop(Exception):
        pass

    seen = []

    def stop_after_two(step, steps):
        seen.append(step)
        if step == 2:
            raise Stop()

    with pytest.raises(Stop):
        model.generate(prompt="x", seeds=[0], width=64, height=64, steps=50, guidance_scale=5.0, on_step=stop_after_two)
    assert seen == [1, 2]
    assert len(model.generate(prompt="x", seeds=[0], width=64, height=64, steps=1, guidance_scale=5.0)) == 1


def wait_for_job(client, location: str) -> tuple[dict, list]:
    """Poll a job until it is finished; the progress seen on the way."""
    seen, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(location).json
        seen.append(job["progress"])
        if job["state"] not in ("queued", "running"):
            return job, seen
        time.sleep(0.01)
    raise AssertionError(f"job {location} did not finish: {job}")


def test_job_runs_to_n_of_n_and_its_result_is_the_synchronous_answer(client):
    body = {**BASE, "seed": 21, "steps": 4}
    submitted = client.post("/v1/images/jobs", json=body)
    assert submitted.status_code == 202 and submitted.json["state"] in ("queued", "running")
    job, seen = wait_for_job(client, submitted.headers["Location"])
    assert job["state"] == "succeeded" and job["progress"] == {"step": 4, "steps": 4}
    steps = [p["step"] for p in seen if p]
    assert steps == sorted(steps)
    result = client.get(job["links"]["result"])
    assert result.json == client.post("/v1/images", json=body).json
    png = client.get(job["links"]["result"], headers={"Accept": "image/png"})
    assert png.mimetype == "image/png" and png.data == base64.b64decode(result.json["images"][0])
    assert client.delete(submitted.headers["Location"]).status_code == 204
    assert client.get(submitted.headers["Location"]).status_code == 404


def test_job_input_is_checked_when_it_is_submitted(client):
    response = client.post("/v1/images/jobs", json={**BASE, "width": 7})
    assert response.status_code == 422 and "width" in response.json["errors"]
    unknown = client.post("/v1/images/jobs", json={**BASE, "model": "no-such-model"})
    assert unknown.status_code == 404


def test_png_of_a_job_of_several_images_is_406_and_json_lists_them_all(client):
    submitted = client.post("/v1/images/jobs", json={**BASE, "seed": 5, "num_images": 2})
    job, _ = wait_for_job(client, submitted.headers["Location"])
    assert job["state"] == "succeeded" and job["parameters"]["seed"] == 5
    png = client.get(job["links"]["result"], headers={"Accept": "image/png"})
    assert png.status_code == 406 and png.mimetype == "application/problem+json"
    assert client.get(job["links"]["result"]).json["seeds"] == [5, 6]


def test_images_over_the_budget_are_refused_now_and_run_as_a_job(client, model, monkeypatch):
    rates = client.get("/v1/models").json["models"][0]["budget"]["work"]["images"]
    assert rates["unit"] == "step-pixel" and rates["seconds_per_unit"] > 0
    monkeypatch.setattr(model.batch_settings, "max_work_s", 1e-6)
    body = {**BASE, "seed": 8, "width": 64, "height": 64, "steps": 2, "num_images": 2}
    refused = client.post("/v1/images", json=body)
    assert refused.status_code == 413 and refused.json["type"] == "urn:aiqa:problem:over-budget"
    assert refused.json["units"] == 2 * 64 * 64 * 2 and list(refused.json["errors"]) == ["steps"]
    # A job has no request to finish within: the same work runs.
    job, _ = wait_for_job(client, client.post("/v1/images/jobs", json=body).headers["Location"])
    assert job["state"] == "succeeded"
