from flask import Blueprint, jsonify

from .. import operations
from ..registry import current_registry
from ..schemas import qa_schema
from . import load_body

bp = Blueprint("qa", __name__, url_prefix="/v1")


@bp.post("/qa")
def qa():
    """Answer questions with spans of their contexts."""
    return jsonify(operations.qa(current_registry(), load_body(qa_schema)))
