from flask import Blueprint, jsonify

from .. import operations
from ..registry import current_registry
from ..schemas import similarity_schema
from . import load_body

bp = Blueprint("similarity", __name__, url_prefix="/v1")


@bp.post("/similarity")
def similarity():
    """Score pairs of texts by the cosine of their embeddings."""
    return jsonify(operations.similarity(current_registry(), load_body(similarity_schema)))
