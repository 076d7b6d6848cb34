from flask import Blueprint, jsonify

from ..errors import NotReady
from ..registry import current_registry

bp = Blueprint("health", __name__)


@bp.get("/livez")
def livez():
    """Say the process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Say whether every configured model is loaded and warmed; list what is missing."""
    ready, missing = current_registry().readiness()
    if not ready:
        raise NotReady(f"{len(missing)} model(s) not ready: {', '.join(sorted(missing))}", missing=missing)
    return jsonify(status="ready", models=sorted(current_registry().slots))
