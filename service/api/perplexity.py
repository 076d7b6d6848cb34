from flask import Blueprint, jsonify

from .. import operations
from ..registry import current_registry
from ..schemas import perplexity_schema
from . import load_body

bp = Blueprint("perplexity", __name__, url_prefix="/v1")


@bp.post("/perplexity")
def perplexity():
    """Compute each text's perplexity under a causal LM."""
    return jsonify(operations.perplexity(current_registry(), load_body(perplexity_schema)))
