from flask import Blueprint, jsonify

from .. import operations
from ..registry import current_registry
from ..schemas import generate_schema
from . import load_body

bp = Blueprint("generate", __name__, url_prefix="/v1")


@bp.post("/generate")
def generate():
    """Generate a completion for a prompt or a chat."""
    return jsonify(operations.generate(current_registry(), load_body(generate_schema)))
