from flask import Blueprint, jsonify

from ..registry import current_registry

bp = Blueprint("models", __name__, url_prefix="/v1")


@bp.get("/models")
def list_models():
    """List configured models with task, source, revision, device, dtype and state."""
    registry = current_registry()
    return jsonify(models=registry.describe(), defaults=registry.defaults)
