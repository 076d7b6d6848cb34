"""The image methods of Client against a real gunicorn server holding only the tiny Stable Diffusion
pipeline; retries and job endings that a real model cannot be made to show, against scripted answers.

The long job (LONG steps of the tiny pipeline) only ever serves to be unfinished: it is cancelled
long before it could finish.
"""
import io

import pytest
from PIL import Image

from aiqa_client import Client, errors
from aiqa_client.errors import JobCancelled, JobFailed
from aiqa_client.types import ImageJob, Images, JobProgress
from aiqa_fixtures import ROOT, LiveServer, tiny_model_builder, write_profile

LONG = 900
SMALL = {"model": "tiny-sd", "width": 64, "height": 64, "steps": 2}
PROMPT = "a lighthouse at dusk"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"), ["stable-diffusion"])["stable-diffusion"]
    tmp = tmp_path_factory.mktemp("client-images")
    profile = write_profile(tmp / "images.yaml", [
        {"name": "tiny-sd", "task": "text-to-image", "source": f"dir:{path}", "options": {"device": "cpu"}}])
    server = LiveServer(tmp, env={"AIQA_MODELS": profile, "AIQA_JOBS_DIR": str(tmp / "jobs"),
                                  "AIQA_MAX_IMAGE_STEPS": str(LONG)}).start()
    try:
        with Client(server.url, timeout=120) as client:
            yield client
    finally:
        server.stop()


def size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


@pytest.mark.slow
def test_images_are_seeded_pngs_of_the_requested_size(client, tmp_path):
    first = client.images(PROMPT, **{**SMALL, "width": 96}, seed=5, num_images=2)
    again = client.images(PROMPT, **{**SMALL, "width": 96}, seed=5, num_images=2)
    assert isinstance(first, Images) and first.images == again.images and first.images[0] != first.images[1]
    assert (first.model, first.seed, first.seeds, first.steps, first.num_images) == ("tiny-sd", 5, [5, 6], 2, 2)
    assert first.revision and first.extra == {}
    assert [size(png) for png in first.images] == [(96, 64), (96, 64)]
    saved = first.save(tmp_path / "out", prefix="lighthouse")
    assert [p.name for p in saved] == ["lighthouse-5.png", "lighthouse-6.png"]
    assert [p.read_bytes() for p in saved] == first.images


@pytest.mark.slow
def test_image_png_is_the_json_answer_s_image(client):
    png = client.image_png(PROMPT, **SMALL, seed=6, negative_prompt="fog")
    assert png.startswith(b"\x89PNG") and size(png) == (64, 64)
    assert png == client.images(PROMPT, **SMALL, seed=6, negative_prompt="fog").images[0]
    unseeded = client.images(PROMPT, **SMALL)
    assert len(unseeded.images) == 1 and unseeded.seeds == [unseeded.seed]  # a seed was drawn and echoed


@pytest.mark.slow
def test_a_job_succeeds_with_the_synchronous_answer(client):
    job = client.submit_image_job(PROMPT, **SMALL, seed=9)
    assert isinstance(job, ImageJob) and job.state in ("queued", "running", "succeeded")
    assert job.location == f"/v1/images/jobs/{job.id}" and job.parameters["seed"] == 9
    result = client.wait_for_image_job(job.id, timeout=120, interval=0.05)
    assert result == client.images(PROMPT, **SMALL, seed=9) == client.image_job_result(job.id)
    done = client.image_job(job.id)
    assert done.finished and done.state == "succeeded" and done.progress == JobProgress(step=2, steps=2)
    assert done.location == job.location and done.links["result"] == f"{job.location}/result"
    assert client.image_job_png(job.id) == result.images[0]
    assert client.cancel_image_job(job.id) is None  # a finished job is removed with its result
    with pytest.raises(errors.JobNotFound):
        client.image_job(job.id)


@pytest.mark.slow
def test_an_unfinished_job_has_no_result_and_can_be_cancelled(client):
    job = client.submit_image_job(PROMPT, **{**SMALL, "steps": LONG})
    with pytest.raises(errors.JobNotFinished) as info:
        client.image_job_result(job.id)
    assert info.value.status == 409
    with pytest.raises(TimeoutError):
        client.wait_for_image_job(job.id, timeout=0)
    client.cancel_image_job(job.id)
    with pytest.raises(JobCancelled) as info:
        client.wait_for_image_job(job.id, timeout=120, interval=0.05)
    assert info.value.job.state == "cancelled" and client.image_job(job.id).state == "cancelled"
    with pytest.raises(errors.JobNotFinished):
        client.image_job_result(job.id)


@pytest.mark.slow
def test_unknown_jobs_and_unacceptable_answers(client):
    unknown = "A" * 22
    for call in (client.image_job, client.image_job_result, client.image_job_png, client.cancel_image_job):
        with pytest.raises(errors.JobNotFound):
            call(unknown)
    job = client.submit_image_job(PROMPT, **SMALL, seed=1, num_images=2)
    assert len(client.wait_for_image_job(job.id, timeout=120, interval=0.05).images) == 2
    with pytest.raises(errors.NotAcceptable) as info:
        client.image_job_png(job.id)  # one PNG of two images
    assert info.value.status == 406
    with pytest.raises(errors.ValidationFailed) as info:
        client.images(PROMPT, **{**SMALL, "width": 7})
    assert "width" in info.value.errors


IMAGES = {"model": "m", "seed": 3, "seeds": [3], "width": 64, "height": 64, "steps": 1, "images": ["iVBORw0KGgo="]}
FULL = (429, {"Retry-After": "0"}, {"type": "urn:aiqa:problem:overloaded", "status": 429})


def test_images_are_retried_only_with_a_seed_and_jobs_never(scripted):
    server = scripted([FULL, (200, {}, IMAGES), FULL, (200, {}, IMAGES), FULL])
    with Client(server.url, retries=2, backoff=0) as client:
        assert client.images("x", seed=3).images == [b"\x89PNG\r\n\x1a\n"]
        with pytest.raises(errors.Overloaded):
            client.images("x")
        client.images("x")  # the 200 after the 429 the unseeded call did not retry
        with pytest.raises(errors.Overloaded):
            client.submit_image_job("x", seed=3)
    assert len(server.app.config["arrivals"]) == 5


@pytest.mark.parametrize("job, error", [
    ({"id": "j", "state": "failed", "error": "out of memory"}, JobFailed),
    ({"id": "j", "state": "cancelled"}, JobCancelled),
])
def test_waiting_for_a_job_that_ended_otherwise_raises(scripted, job, error):
    server = scripted([(200, {}, {"id": "j", "state": "running", "progress": {"step": 1, "steps": 2}}),
                       (200, {}, job)])
    with Client(server.url) as client, pytest.raises(error) as info:
        client.wait_for_image_job("j", interval=0)
    assert info.value.job.state == job["state"] and str(info.value).startswith(f"image job j {job['state']}")
    assert type(info.value) is error and isinstance(info.value, RuntimeError)
