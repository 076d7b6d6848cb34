from flask import Blueprint, jsonify

from .. import operations
from ..registry import current_registry
from ..schemas import classify_schema
from . import load_body

bp = Blueprint("classify", __name__, url_prefix="/v1")


@bp.post("/classify")
def classify():
    """Classify texts with a classifier head or zero-shot on a causal LM."""
    return jsonify(operations.classify(current_registry(), load_body(classify_schema)))
