from flask import Blueprint, jsonify

from .. import bias
from ..registry import current_registry
from ..schemas import counterfactual_schema
from . import load_body

bp = Blueprint("bias", __name__, url_prefix="/v1")


@bp.post("/bias/counterfactual")
def counterfactual():
    """Swap demographic terms in each input and measure how the classifier's decision moves."""
    return jsonify(bias.counterfactual(current_registry(), load_body(counterfactual_schema)))
