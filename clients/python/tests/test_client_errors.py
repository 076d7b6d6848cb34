"""Every problem+json the service can answer maps to its client exception, carrying the response.

The answers come from a Flask app that raises the service's own error classes through the
service's own problem+json handlers, so a new slug on the server shows up here.
"""
import pytest
import requests
from flask import Flask

from aiqa_client import Client, errors
from service import errors as server_errors


def leaves(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from leaves(sub)


SERVER_ERRORS = {cls.slug: cls for cls in [server_errors.APIError, *leaves(server_errors.APIError)]}


@pytest.fixture(scope="module")
def problem_server():
    from chatbots import ThreadedServer
    app = Flask("problems")
    server_errors.init_app(app)

    @app.route("/problem/<slug>", methods=["GET", "POST"])
    def problem(slug):
        raise SERVER_ERRORS[slug](f"a {slug} for the test", errors={"field": ["bad"]})

    server = ThreadedServer(app).start()
    yield server
    server.stop()


@pytest.mark.parametrize("slug", sorted(SERVER_ERRORS))
def test_each_server_error_maps_to_a_client_leaf(problem_server, slug):
    server_cls = SERVER_ERRORS[slug]
    with Client(problem_server.url, retries=0) as client, pytest.raises(errors.APIError) as info:
        client.request("POST", f"/problem/{slug}", json={})
    error = info.value
    assert isinstance(error, errors.AiqaError) and error.response is not None
    assert error.status == server_cls.status == error.response.status_code
    assert error.type == f"urn:aiqa:problem:{slug}" and error.detail == f"a {slug} for the test"
    assert error.errors == {"field": ["bad"]}
    expected = errors.BY_SLUG.get(slug) or errors.BY_STATUS.get(server_cls.status, errors.ServerError)
    assert type(error) is expected
    assert slug in str(error) or server_cls.title in str(error)


@pytest.mark.parametrize("slug, builtin", [
    ("validation-error", ValueError), ("model-not-found", LookupError), ("timeout", TimeoutError),
    ("payload-too-large", ValueError), ("unauthorized", PermissionError),
])
def test_leaves_inherit_the_matching_builtin(problem_server, slug, builtin):
    with Client(problem_server.url, retries=0) as client, pytest.raises(builtin):
        client.request("POST", f"/problem/{slug}", json={})


def test_an_unknown_slug_falls_back_to_the_status(scripted):
    server = scripted([(404, {}, {"type": "urn:aiqa:problem:job-not-found", "status": 404, "detail": "no job"}),
                       (502, {}, {"detail": "bad gateway"})])
    with Client(server.url, retries=0) as client:
        with pytest.raises(errors.NotFound) as info:
            client.request("GET", "/v1/jobs/1")
        assert info.value.detail == "no job"
        with pytest.raises(errors.ServerError):
            client.request("GET", "/v1/jobs/1")


def test_unreachable_and_slow_services_raise_transport_errors(scripted):
    with Client("http://127.0.0.1:9", retries=0, timeout=2) as client, pytest.raises(errors.ConnectionFailed) as info:
        client.livez()
    assert isinstance(info.value, ConnectionError) and info.value.response is None
    server = scripted([(200, {}, {"status": "ok"})])
    with Client(server.url, timeout=0.2) as client, pytest.raises(errors.RequestTimedOut) as info:
        client.request("GET", "/slow")
    assert isinstance(info.value, TimeoutError)


def test_from_response_reads_a_non_json_error():
    response = requests.Response()
    response.status_code, response._content, response.reason = 500, b"<html>oops</html>", "Internal Server Error"
    response.request = requests.Request("GET", "http://x/y").prepare()
    response.url = "http://x/y"
    error = errors.from_response(response)
    assert type(error) is errors.ServerError and "oops" in str(error) and error.problem == {}


def test_over_budget_says_the_estimate_and_the_limit(scripted):
    problem = {"type": "urn:aiqa:problem:over-budget", "title": "Over budget", "status": 413,
               "detail": "estimated at 74.2 s", "estimate_s": 74.2, "limit_s": 60.0, "units": 61380, "unit": "token"}
    server = scripted([(413, {}, problem)])
    with Client(server.url, retries=0) as client, pytest.raises(errors.OverBudget) as info:
        client.classify(["x"] * 64)
    assert isinstance(info.value, errors.PayloadTooLarge)
    assert (info.value.estimate_s, info.value.limit_s) == (74.2, 60.0)
