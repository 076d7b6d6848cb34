"""API keys, the per-key token bucket and exempt paths, through the app's test client (no models)."""
import pytest

from service import create_app
from service.security import TokenBucket, split_setting

KEYS = "alpha-key, beta-key"


def app_with(**config):
    return create_app({"LOAD_MODELS": False, **config})


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def test_settings_come_as_comma_separated_strings_or_lists():
    assert split_setting(" a, b ,,c ") == ["a", "b", "c"]
    assert split_setting(["a", " b "]) == ["a", "b"]
    assert split_setting("") == []


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token comes back after 1 / rate seconds
    assert bucket.take(0.5) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # never more than the burst


@pytest.mark.parametrize("headers, detail", [
    ({}, "send an API key"),
    (bearer("wrong-key"), "not valid"),
    ({"Authorization": "Basic YWxwaGEta2V5Og=="}, "send an API key"),
    ({"Authorization": "Bearer "}, "send an API key"),
    (bearer("alpha-key-and-more"), "not valid"),
])
def test_a_missing_or_wrong_key_is_401_problem_json(headers, detail):
    response = app_with(API_KEYS=KEYS).test_client().get("/v1/models", headers=headers)
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.json["type"] == "urn:aiqa:problem:unauthorized" and detail in response.json["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "alpha-key" not in response.get_data(as_text=True)


def test_every_configured_key_is_accepted():
    client = app_with(API_KEYS=KEYS).test_client()
    assert client.get("/v1/models", headers=bearer("alpha-key")).status_code == 200
    assert client.get("/v1/models", headers=bearer("beta-key")).status_code == 200


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics", "/openapi.yaml", "/docs", "/docs/index.css"])
def test_probes_metrics_and_docs_are_exempt_by_default(path):
    with app_with(API_KEYS=KEYS, RATE_LIMIT=0.001, RATE_LIMIT_BURST=1).test_client() as client:
        for _ in range(3):
            with client.get(path) as response:
                assert response.status_code not in (401, 429)  # /readyz is 503: no model loads here


def test_exempt_paths_are_configurable():
    client = app_with(API_KEYS=KEYS, AUTH_EXEMPT="/livez").test_client()
    assert client.get("/livez").status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/livez-and-more").status_code == 401  # a prefix covers its own subpaths only


def test_without_keys_every_request_passes():
    assert app_with(API_KEYS="").test_client().get("/v1/models").status_code == 200


def test_over_the_rate_is_429_with_retry_after_per_key():
    client = app_with(API_KEYS=KEYS, RATE_LIMIT=0.1, RATE_LIMIT_BURST=2).test_client()
    statuses = [client.get("/v1/models", headers=bearer("alpha-key")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.get("/v1/models", headers=bearer("alpha-key"))
    assert limited.json["type"] == "urn:aiqa:problem:rate-limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert client.get("/v1/models", headers=bearer("beta-key")).status_code == 200  # its own bucket


def test_without_keys_the_rate_is_kept_per_client_address():
    client = app_with(RATE_LIMIT=0.1, RATE_LIMIT_BURST=1).test_client()
    assert client.get("/v1/models").status_code == 200
    assert client.get("/v1/models").status_code == 429
    other = client.get("/v1/models", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_an_unexpected_error_shows_no_internals():
    app = app_with()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals at /srv/weights/model.safetensors")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "trace-500"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "secret internals" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert response.headers["X-Request-ID"] == "trace-500"
