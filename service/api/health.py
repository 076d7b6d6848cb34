from flask import Blueprint, current_app, jsonify

from ..errors import NotReady
from ..registry import current_registry

bp = Blueprint("health", __name__)


@bp.get("/livez")
def livez():
    """Say the process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Say whether every configured model is loaded and warmed; list what is missing, and the store's state."""
    ready, missing = current_registry().readiness()
    # The store does not decide readiness: scoring goes on without it, only recording waits.
    store = store_state()
    if not ready:
        raise NotReady(f"{len(missing)} model(s) not ready: {', '.join(sorted(missing))}", missing=missing,
                       **store)
    return jsonify(status="ready", models=sorted(current_registry().slots), **store)


def store_state() -> dict:
    """{"store": {"state": "ready" | "unavailable", "error": ...}}; empty where the store is off."""
    store = current_app.extensions.get("aiqa.store")
    if store is None:
        return {}
    error = store.readiness()
    return {"store": {"state": "unavailable", "error": error} if error else {"state": "ready"}}
