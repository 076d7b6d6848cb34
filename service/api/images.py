"""Text-to-image: images now (POST /v1/images), or as a job for generation that outlasts a request.

`Accept: image/png` answers with the PNG itself (the seed in X-Seed); otherwise JSON with base64 PNGs.
"""
import base64

from flask import Blueprint, Response, jsonify, request, url_for

from .. import operations
from ..errors import APIError, ValidationFailed
from ..jobs import SUCCEEDED, current_jobs
from ..registry import current_registry
from ..schemas import image_schema
from . import load_body

bp = Blueprint("images", __name__, url_prefix="/v1")
PNG = "image/png"


class NotAcceptable(APIError):
    """The result cannot take the representation the Accept header asks for."""
    status, slug, title = 406, "not-acceptable", "Not acceptable"


def _wants_png() -> bool:
    return request.accept_mimetypes.best_match(["application/json", PNG]) == PNG


def _png(result: dict) -> Response:
    response = Response(base64.b64decode(result["images"][0]), mimetype=PNG)
    response.headers.update({"X-Seed": str(result["seed"]), "X-Model": result["model"],
                             "X-Model-Revision": result["revision"]})
    return response


def _linked(job: dict, status: int = 200):
    links = {"self": url_for(".get_image_job", job_id=job["id"])}
    if job["state"] == SUCCEEDED:
        links["result"] = url_for(".get_image_job_result", job_id=job["id"])
    response = jsonify({**job, "links": links})
    response.status_code = status
    return response


@bp.post("/images")
def create_images():
    """Generate images for a prompt and answer with them."""
    data = load_body(image_schema)
    png = _wants_png()
    if png and data["num_images"] != 1:
        raise ValidationFailed("Accept: image/png answers with one image", errors={
            "num_images": ["Must be 1 with Accept: image/png; accept application/json for several."]})
    result = operations.images(current_registry(), data)
    return _png(result) if png else jsonify(result)


@bp.post("/images/jobs")
def submit_image_job():
    """Queue a generation; poll the job that the Location header names."""
    job = operations.image_job(current_registry(), current_jobs(), load_body(image_schema))
    response = _linked(job, 202)
    response.headers["Location"] = url_for(".get_image_job", job_id=job["id"])
    return response


@bp.get("/images/jobs/<job_id>")
def get_image_job(job_id):
    """Report a job's state and progress."""
    return _linked(current_jobs().status(job_id))


@bp.get("/images/jobs/<job_id>/result")
def get_image_job_result(job_id):
    """Answer with a succeeded job's images, as POST /v1/images would have."""
    result = current_jobs().result(job_id)
    if not _wants_png():
        return jsonify(result)
    if len(result["images"]) != 1:
        raise NotAcceptable(f"job {job_id} made {len(result['images'])} images; accept application/json")
    return _png(result)


@bp.delete("/images/jobs/<job_id>")
def cancel_image_job(job_id):
    """Cancel a queued or running job (202); remove a finished one and its result (204)."""
    job = current_jobs().cancel(job_id)
    return ("", 204) if job is None else _linked(job, 202)
