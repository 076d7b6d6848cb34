"""The API's contract where its users look: /openapi.yaml, and /docs to browse it with Swagger UI.

Swagger UI's files come from the flask-swagger-ui package (Swagger UI 5, which reads OpenAPI 3.1),
served by the service itself: the page works offline and loads nothing from a CDN.
"""
import copy
import functools
import importlib.resources
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, render_template_string, send_file

from ..errors import NotFound
from ..security import split_setting

bp = Blueprint("docs", __name__)

# The files the page loads; anything else under /docs/ is a 404, so no other file of the package is exposed.
ASSETS = {
    "swagger-ui.css": "text/css", "index.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript", "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png", "favicon-16x16.png": "image/png",
}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>aiqa API</title>
  <link rel="stylesheet" href="{{ base }}/swagger-ui.css">
  <link rel="stylesheet" href="{{ base }}/index.css">
  <link rel="icon" type="image/png" href="{{ base }}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{{ base }}/swagger-ui-bundle.js"></script>
  <script src="{{ base }}/swagger-ui-standalone-preset.js"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: {{ spec_url|tojson }}, dom_id: "#swagger-ui", deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"
      });
    };
  </script>
</body>
</html>
"""


def spec_path() -> Path:
    """openapi.yaml at the repository root, or AIQA_OPENAPI_PATH where the package is installed elsewhere."""
    configured = current_app.config.get("OPENAPI_PATH")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "openapi.yaml"


# A bound that is a server setting is marked in the document: `x-aiqa-setting: {maximum: AIQA_MAX_IMAGES}`.
SETTING = "x-aiqa-setting"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def settings_of(document) -> list[tuple[dict, str, str]]:
    """(schema, keyword, setting name without AIQA_) for every bound the document marks as a setting."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            found.extend((node, keyword, name.removeprefix("AIQA_")) for keyword, name in node.get(SETTING, {}).items())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(document)
    return found


def with_settings(document: dict, config) -> dict:
    """A copy of the document whose marked bounds are the values `config` holds: the limits of the
    server that serves it, so a client (or a generated test) sees what this server accepts. With API
    keys set, a key is required (bearerAuth) on every operation but the exempt ones; without, the
    file's optional `security` stays."""
    document = copy.deepcopy(document)
    for schema, keyword, name in settings_of(document):
        schema[keyword] = config[name]
    if split_setting(config["API_KEYS"]):
        exempt = tuple(prefix.rstrip("/") for prefix in split_setting(config["AUTH_EXEMPT"]))
        document["security"] = [{"bearerAuth": []}]
        for path, item in document["paths"].items():
            if any(path == prefix or path.startswith(prefix + "/") for prefix in exempt):
                for method in METHODS & set(item):
                    item[method]["security"] = []
    return document


@bp.get("/openapi.yaml")
def openapi_document():
    """Serve the OpenAPI document: the file as it is when the server runs with the defaults it states,
    else with the bounds this server's settings give."""
    path = spec_path()
    document = _document(str(path), path.stat().st_mtime_ns)
    config, marked = current_app.config, settings_of(document)
    keys = bool(split_setting(config["API_KEYS"]))
    if not keys and all(schema[keyword] == config[name] for schema, keyword, name in marked):
        return send_file(path, mimetype="application/yaml", max_age=60)
    # What the document depends on (a placeholder for the keys: they are never written anywhere).
    settings = tuple(sorted({(name, config[name]) for _, _, name in marked})) + (
        ("API_KEYS", "set" if keys else ""), ("AUTH_EXEMPT", ",".join(split_setting(config["AUTH_EXEMPT"]))))
    return Response(_rewritten(str(path), path.stat().st_mtime_ns, settings), mimetype="application/yaml",
                    headers={"Cache-Control": "public, max-age=60"})


@functools.lru_cache(maxsize=4)
def _document(path: str, mtime_ns: int) -> dict:
    return yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.lru_cache(maxsize=4)
def _rewritten(path: str, mtime_ns: int, settings: tuple) -> str:
    return yaml.safe_dump(with_settings(_document(path, mtime_ns), dict(settings)), sort_keys=False,
                          allow_unicode=True, width=120)


@bp.get("/docs")
def docs_page():
    """Serve the Swagger UI page for the OpenAPI document."""
    return render_template_string(PAGE, base="docs", spec_url="openapi.yaml")


@bp.get("/docs/<asset>")
def docs_asset(asset):
    """Serve one of Swagger UI's files from the installed package."""
    if asset not in ASSETS:
        raise NotFound(f"no docs asset named {asset!r}")
    path = importlib.resources.files("flask_swagger_ui") / "dist" / asset
    return send_file(path, mimetype=ASSETS[asset], max_age=3600)
