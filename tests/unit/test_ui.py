"""The pages through Flask's test client: escaping, keys in a cookie (never accepted by the API),
redirects that stay on this site, error pages, the try-it forms' reading of fields, the charts'
geometry. tests/ui drives the same pages in a real browser."""
import html
import re

import pytest

from service.ui import charts

SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def run_body(day: int, statuses: list[str], suite: str = "bot <i>one</i>") -> dict:
    cases = [{"id": f"c{i} <b>", "type": "adv<ersarial" if i % 2 else "functional", "status": status,
              "attempts": [] if status == "error" else [{"passed": status == "passed", "reason": SCRIPT,
                                                         "prompt": SCRIPT, "reply": SCRIPT, "score": 0.25 * i}]}
             for i, status in enumerate(statuses)]
    return {"suite": suite, "target": {"type": "http", "url": "http://bot/<chat>"}, "cases": cases,
            "started_at": f"2026-10-{day:02d}T08:00:00Z"}


def make_app(tmp_path, **config):
    from service import create_app
    return create_app({"LOAD_MODELS": False, "CACHE_DIR": str(tmp_path), **config})


@pytest.fixture
def client(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    client.ids = [client.post("/v1/runs", json=run_body(day, statuses)).json["id"] for day, statuses in
                  [(1, ["passed", "passed", "failed"]), (2, ["failed", "passed", "error"])]]
    return client


def test_every_page_escapes_what_it_shows(client):
    newest, oldest = client.ids[1], client.ids[0]
    for path in ["/ui/", f"/ui/runs/{newest}", f"/ui/compare?current={newest}&baseline={oldest}"]:
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "text/html", path
        assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "bot &lt;i&gt;one&lt;/i&gt;" in page, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy


def test_run_page_lists_failures_first_and_filters(client):
    page = client.get(f"/ui/runs/{client.ids[1]}").get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', page) == ["failed", "error", "passed"]
    assert [html.unescape(flip) for flip in re.findall(r'data-flip="([^"]+)"', page)] == ["pass->fail", "into error"]
    failed = client.get(f"/ui/runs/{client.ids[1]}?outcome=failed").get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', failed) == ["failed"]
    typed = client.get(f"/ui/runs/{client.ids[1]}", query_string={"type": "adv<ersarial"}).get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', typed) == ["passed"]
    assert re.findall(r'data-name="score" data-value="([^"]+)"', page) == ["0.0", "0.25"]


def test_a_bad_filter_and_an_unknown_run_are_pages_not_stack_traces(client):
    bad = client.get(f"/ui/runs/{client.ids[1]}?outcome=maybe")
    assert bad.status_code == 422 and bad.mimetype == "text/html" and "outcome" in bad.get_data(as_text=True)
    missing = client.get("/ui/runs/nope")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Traceback" not in missing.get_data(as_text=True)
    other_suite = client.post("/v1/runs", json=run_body(3, ["passed"], suite="another")).json["id"]
    mixed = client.get(f"/ui/compare?current={client.ids[1]}&baseline={other_suite}")
    assert mixed.status_code == 422 and mixed.mimetype == "text/html"
    assert client.get(f"/ui/compare?current={client.ids[1]}").status_code == 422


def test_the_first_run_has_no_baseline_and_the_suites_page_a_point_per_run(client):
    first = client.get(f"/ui/runs/{client.ids[0]}").get_data(as_text=True)
    assert "No earlier run" in first
    suites = client.get("/ui/").get_data(as_text=True)
    assert len(re.findall(r'<circle class="point"', suites)) == 2


def test_keys_live_in_a_cookie_for_pages_and_the_api_never_takes_the_cookie(tmp_path):
    app = make_app(tmp_path, API_KEYS="k-one,k-two")
    client = app.test_client()
    refused = client.get("/ui/evaluations?x=1")
    assert refused.status_code == 302 and refused.headers["Location"] == "/ui/key?next=/ui/evaluations?x%3D1"
    with client.get("/ui/static/aiqa.css") as stylesheet:  # the key form's own, with no key
        assert stylesheet.status_code == 200 and stylesheet.mimetype == "text/css"
    wrong = client.post("/ui/key", data={"key": "k-three", "next": "/ui/evaluations"})
    assert wrong.status_code == 401 and "not valid" in wrong.get_data(as_text=True)
    right = client.post("/ui/key", data={"key": "k-two", "next": "/ui/evaluations"})
    assert right.status_code == 302 and right.headers["Location"] == "/ui/evaluations"
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert client.get("/ui/evaluations").status_code == 200
    assert client.get("/v1/runs").status_code == 401  # the cookie is no key for the API
    client.set_cookie("aiqa_key", "k-stale", path="/ui")  # a key since removed: back to the form
    assert client.get("/ui/evaluations").headers["Location"] == "/ui/key?next=/ui/evaluations"
    client.set_cookie("aiqa_key", "k-two", path="/ui")
    forgotten = client.post("/ui/key", data={"action": "forget"})
    assert "aiqa_key=;" in forgotten.headers["Set-Cookie"]


@pytest.mark.parametrize("following", ["https://evil.example/", "//evil.example/ui/", "/v1/runs", "/ui\\..\\x", ""])
def test_the_key_form_sends_back_to_pages_of_this_site_only(tmp_path, following):
    client = make_app(tmp_path, API_KEYS="k").test_client()
    answer = client.post("/ui/key", data={"key": "k", "next": following})
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/"


def test_try_it_reads_fields_strictly_and_answers_problems_on_the_page(tmp_path):
    client = make_app(tmp_path).test_client()
    assert client.get("/ui/try/").status_code == 200
    assert client.get("/ui/try/nothing").status_code == 404
    bad = client.post("/ui/try/generate", data={"prompt": "Hi", "max_new_tokens": "1.5", "temperature": "x"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "max_new_tokens" in page and "temperature" in page
    from service.ui import forms
    body = forms.ENDPOINTS["similarity"].body({"model": "", "a": "one", "b": "two"})
    assert body == {"pairs": [["one", "two"]]}
    assert forms.ENDPOINTS["classify"].body({"inputs": "a\n\nb\n", "candidate_labels": "x, y,"}) == \
        {"inputs": ["a", "b"], "candidate_labels": ["x", "y"]}
    with pytest.raises(Exception) as raised:
        forms.ENDPOINTS["generate"].body({"prompt": "p", "max_new_tokens": "nan", "temperature": "inf"})
    assert set(raised.value.errors) == {"max_new_tokens", "temperature"}


def test_the_chart_puts_time_left_to_right_and_rates_bottom_to_top():
    chart = charts.time_series([
        {"value": 0.0, "when": "2026-10-01T00:00:00Z", "interval": (0.0, 0.2)},
        {"value": None, "when": "2026-10-02T00:00:00Z"},
        {"value": 1.0, "when": "2026-10-04T00:00:00Z", "interval": (0.8, 1.0)},
        {"value": 0.5, "when": "2026-10-03T00:00:00Z"},
    ], percent=True)
    xs = [p.x for p in chart.points]
    assert len(chart.points) == 3 and xs[0] == chart.left and xs[1] == chart.right
    assert chart.left < xs[2] < chart.right
    assert chart.points[0].y == chart.bottom and chart.points[1].y == chart.top
    assert chart.points[0].high < chart.points[0].low == chart.bottom and chart.points[2].low is None
    assert [text for _, text in chart.y_ticks] == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert [text for _, text, _ in chart.x_ticks][0] == "2026-10-01" and chart.x_ticks[-1][2] == "end"
    assert charts.time_series([]).points == []
    single = charts.time_series([{"value": 3.0, "when": "2026-10-01T00:00:00Z"}])
    assert single.points[0].x == (single.left + single.right) / 2


def test_a_store_that_is_down_is_a_503_page(tmp_path):
    from aiqa_fixtures import free_port
    client = make_app(tmp_path, DATABASE_URL=f"postgresql://aiqa@127.0.0.1:{free_port()}/aiqa").test_client()
    answer = client.get("/ui/")
    assert answer.status_code == 503 and answer.mimetype == "text/html"
    assert "Store unavailable" in answer.get_data(as_text=True)
