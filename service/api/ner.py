from flask import Blueprint, jsonify

from .. import operations
from ..registry import current_registry
from ..schemas import ner_schema
from . import load_body

bp = Blueprint("ner", __name__, url_prefix="/v1")


@bp.post("/ner")
def ner():
    """Find named entities in texts; optionally tag every word (BIO) for seqeval."""
    return jsonify(operations.ner(current_registry(), load_body(ner_schema)))
