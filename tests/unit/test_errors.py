import pytest

from service import create_app
from service.errors import PROBLEM_JSON, ModelNotFound, Overloaded, ValidationFailed


@pytest.fixture()
def app():
    app = create_app({"LOAD_MODELS": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals /home/model/weights")

    @app.get("/busy")
    def busy():
        raise Overloaded("queue full", retry_after=3)

    return app


def test_api_error_renders_problem_json():
    body = ValidationFailed("bad", errors={"inputs": ["Required."]}).to_dict()
    assert body == {"type": "urn:aiqa:problem:validation-error", "title": "Invalid request", "status": 422,
                    "detail": "bad", "errors": {"inputs": ["Required."]}}


def test_leaves_inherit_builtins():
    assert isinstance(ModelNotFound("x"), LookupError)
    assert isinstance(ValidationFailed("x"), ValueError)


def test_unknown_route_is_problem_json(app):
    response = app.test_client().get("/nowhere")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert response.json["type"] == "urn:aiqa:problem:not-found"


def test_wrong_method_is_405_with_allow(app):
    response = app.test_client().get("/v1/classify")
    assert response.status_code == 405 and response.mimetype == PROBLEM_JSON
    assert "POST" in response.headers["Allow"]


def test_unhandled_error_hides_internals(app):
    response = app.test_client().get("/boom")
    assert response.status_code == 500 and response.mimetype == PROBLEM_JSON
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_overloaded_carries_retry_after(app):
    response = app.test_client().get("/busy")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_request_id_is_echoed_or_made(app):
    client = app.test_client()
    assert client.get("/livez", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert len(client.get("/livez").headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("enabled", [False, True])
def test_request_texts_reach_the_log_only_when_enabled(caplog, enabled):
    app = create_app({"LOAD_MODELS": False, "LOG_REQUEST_TEXTS": enabled})
    with caplog.at_level("INFO", logger="aiqa.access"):
        app.test_client().post("/v1/classify", json={"inputs": "a very private sentence"})
    logged = " ".join(str(getattr(r, "fields", {})) for r in caplog.records)
    assert ("a very private sentence" in logged) is enabled
