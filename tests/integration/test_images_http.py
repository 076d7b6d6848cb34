"""Images and image jobs on a real gunicorn server with two workers sharing one job store.

The store takes one unfinished job at a time (AIQA_JOB_QUEUE_SIZE=1), so a long job makes the next
submission 429 in whichever worker it reaches. Long means 900 steps of the tiny pipeline: it is
cancelled long before it could finish.
"""
import base64
import io
import secrets
import time

import pytest
import requests
from PIL import Image

from aiqa_fixtures import ROOT, LiveServer, tiny_model_builder, write_profile

pytestmark = pytest.mark.slow
BASE = {"model": "tiny-sd", "prompt": "a lighthouse at dusk", "steps": 3}
LONG = 900


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tiny_model_builder.build(str(ROOT / ".cache" / "tiny-models"), ["stable-diffusion"])["stable-diffusion"]
    tmp = tmp_path_factory.mktemp("images-http")
    profile = write_profile(tmp / "images.yaml", [
        {"name": "tiny-sd", "task": "text-to-image", "source": f"dir:{path}", "options": {"device": "cpu"}}])
    live = LiveServer(tmp, workers=2, env={
        "AIQA_MODELS": profile, "AIQA_JOBS_DIR": str(tmp / "jobs"), "AIQA_JOB_QUEUE_SIZE": "1",
        "AIQA_MAX_IMAGE_STEPS": str(LONG)}).start()
    # /readyz answered from one worker; wait for the other's model too (each logs "model ready").
    deadline = time.monotonic() + 180
    while live.log_path.read_text().count('"message": "model ready"') < 2:
        assert time.monotonic() < deadline, live.log_path.read_text()[-4000:]
        time.sleep(0.1)
    yield live
    live.stop()


def get(server, path, **kwargs):
    # No session: every call opens a new connection, so either worker may answer it.
    return requests.get(server.url + path, timeout=30, **kwargs)


def poll(server, location: str, done) -> tuple[dict, list]:
    """GET the job until done(job); every job seen on the way."""
    seen, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline:
        response = get(server, location)
        assert response.status_code == 200, response.text  # never a 404 from the other worker
        seen.append(response.json())
        if done(seen[-1]) or finished(seen[-1]):
            return seen[-1], seen
        time.sleep(0.02)
    raise AssertionError(f"job {location} never got there: {seen[-1]}")


def finished(job):
    return job["state"] not in ("queued", "running")


def test_sync_images_are_seeded_pngs_of_the_requested_size(server):
    body = {**BASE, "seed": 5, "width": 96, "height": 64, "num_images": 2}
    first = requests.post(server.url + "/v1/images", json=body, timeout=60)
    again = requests.post(server.url + "/v1/images", json=body, timeout=60)
    assert first.status_code == 200 and first.json()["images"] == again.json()["images"]
    sizes = {Image.open(io.BytesIO(base64.b64decode(image))).size for image in first.json()["images"]}
    assert sizes == {(96, 64)} and len(set(first.json()["images"])) == 2
    png = requests.post(server.url + "/v1/images", json={**BASE, "seed": 5}, headers={"Accept": "image/png"}, timeout=60)
    assert png.headers["Content-Type"] == "image/png" and png.headers["X-Seed"] == "5"


def test_job_progress_rises_to_n_of_n_and_its_result_is_the_sync_answer(server):
    body = {**BASE, "seed": 99}
    submitted = requests.post(server.url + "/v1/images/jobs", json=body, timeout=30)
    assert submitted.status_code == 202
    location = submitted.headers["Location"]
    assert location == f"/v1/images/jobs/{submitted.json()['id']}"
    job, seen = poll(server, location, finished)
    assert job["state"] == "succeeded" and job["progress"] == {"step": 3, "steps": 3}
    steps = [j["progress"]["step"] for j in seen if j["progress"]]
    assert steps == sorted(steps)
    answers = [get(server, location + "/result").json() for _ in range(6)]  # either worker
    sync = requests.post(server.url + "/v1/images", json=body, timeout=60).json()
    assert all(answer == sync for answer in answers)


def test_cancel_stops_a_running_job_and_a_full_queue_is_429(server):
    submitted = requests.post(server.url + "/v1/images/jobs", json={**BASE, "steps": LONG}, timeout=30)
    assert submitted.status_code == 202
    location = submitted.headers["Location"]
    running, _ = poll(server, location, lambda job: job["state"] == "running" and job["progress"])
    assert running["state"] == "running", running
    full = requests.post(server.url + "/v1/images/jobs", json=BASE, timeout=30)
    assert full.status_code == 429 and full.headers["Retry-After"]
    assert full.headers["Content-Type"] == "application/problem+json"
    cancel = requests.delete(server.url + location, timeout=30)
    assert cancel.status_code == 202 and cancel.json()["cancel_requested"] is True
    job, _ = poll(server, location, finished)
    assert job["state"] == "cancelled" and job["progress"]["step"] < LONG
    assert get(server, location + "/result").status_code == 409
    again = requests.post(server.url + "/v1/images/jobs", json=BASE, timeout=30)
    assert again.status_code == 202  # the cancelled job gave its place back
    poll(server, again.headers["Location"], finished)


def test_unknown_job_is_404(server):
    unknown = f"/v1/images/jobs/{secrets.token_urlsafe(16)}"
    for response in (get(server, unknown), get(server, unknown + "/result"),
                     requests.delete(server.url + unknown, timeout=30)):
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("change, field", [
    ({"width": 7}, "width"), ({"height": 100000}, "height"), ({"steps": 0}, "steps"),
    ({"steps": LONG + 1}, "steps"), ({"prompt": ""}, "prompt"), ({"seed": -1}, "seed"),
])
@pytest.mark.parametrize("path", ["/v1/images", "/v1/images/jobs"])
def test_bad_input_is_422_problem_json(server, path, change, field):
    response = requests.post(server.url + path, json={**BASE, **change}, timeout=30)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
