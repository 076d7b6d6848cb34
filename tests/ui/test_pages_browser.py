"""The pages in a real headless Chromium (Debian's chromium and chromium-driver, installed by `make
test`), on a real gunicorn server with API keys and recorded runs whose replies hold HTML and script
on purpose. Every page loads without console errors, shows the API's numbers, and runs nothing it
shows. Screenshots of the suites and run pages are saved under reports/ for a person to look at."""
import json
import shutil
from pathlib import Path

import pytest
import requests

from aiqa_fixtures import ROOT, LiveServer

KEY = "ui-test-key-7f3a"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPORTS = ROOT / "reports"
SCRIPT_REPLY = "<script>alert(1)</script> and <img src=x onerror=alert(2)> and </pre><b>bold?</b>"


def case(number: int, status: str, kind: str = "functional", reply: str | None = None) -> dict:
    attempt = {"passed": status == "passed", "reason": "matched" if status == "passed" else "too far from expected",
               "prompt": f"question {number}?", "reply": reply or f"answer {number}", "similarity": 0.5 + number / 100}
    return {"id": f"case-{number:02d}", "type": kind, "status": status,
            "attempts": [] if status == "error" else [attempt], "message": "timed out" if status == "error" else ""}


def run_body(day: int, failing: set, suite: str = "checkout-bot") -> dict:
    cases = []
    for number in range(12):
        status = "error" if number == 11 and day % 2 else "failed" if number in failing else "passed"
        kind = "adversarial" if number % 3 == 0 else "functional"
        cases.append(case(number, status, kind, SCRIPT_REPLY if number == 0 else None))
    return {"suite": suite, "target": {"type": "http", "url": "http://bot.internal/chat"}, "cases": cases,
            "started_at": f"2026-11-{day:02d}T09:30:00Z", "pass_rate_threshold": 0.8}


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_profile):
    tmp = tmp_path_factory.mktemp("ui")
    live = LiveServer(tmp, env={"AIQA_MODELS": tiny_profile, "AIQA_API_KEYS": KEY}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def recorded(server):
    """Four runs of one suite (the newest failing more), one of another, three recorded f1s."""
    ids = []
    for day, failing in [(1, {2}), (2, {2, 5}), (3, {5}), (4, {0, 2, 5, 7})]:
        answer = requests.post(server.url + "/v1/runs", json=run_body(day, failing), headers=AUTH, timeout=30)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    other = run_body(3, set(), suite="refund-flow")
    assert requests.post(server.url + "/v1/runs", json=other, headers=AUTH, timeout=30).status_code == 201
    for seed in range(3):
        body = {"predictions": [1, 0, 1, 1, seed % 2, 0], "references": [1, 0, 0, 1, 1, 0],
                "confidence": {"method": "bootstrap", "seed": seed}, "record": {"name": "nightly <b>eval</b>"}}
        assert requests.post(server.url + "/v1/metrics/f1", json=body, headers=AUTH, timeout=30).status_code == 200
    return ids


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    assert browser and driver, ("the page tests need Debian's chromium and chromium-driver: `make test` installs "
                                "them (apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    binary, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def signed_in(browser, server, recorded):
    """The browser with the key entered once on the key form."""
    browser.delete_all_cookies()
    browser.get(server.url + "/ui/")
    assert "/ui/key" in browser.current_url
    browser.find_element("id", "key").send_keys(KEY)
    submit(browser, "form.stacked button")
    assert browser.current_url == server.url + "/ui/"
    return browser


def submit(browser, selector: str) -> None:
    """Click a form's button and wait until the page it leads to has replaced this one."""
    from selenium.webdriver.support.ui import WebDriverWait
    old = browser.find_element("tag name", "html")
    browser.find_element("css selector", selector).click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element("tag name", "html").id != old.id)


def console_errors(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def api(server, path: str) -> dict:
    answer = requests.get(server.url + path, headers=AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def screenshot(browser, name: str) -> Path:
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / name
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(height + 40, 600), 4000))
    assert browser.save_screenshot(str(path))
    browser.set_window_size(1280, 1000)
    return path


def test_a_page_without_the_key_goes_to_the_key_form_and_a_wrong_key_is_refused(browser, server, recorded):
    browser.delete_all_cookies()
    browser.get(server.url + "/ui/runs/" + recorded[-1] + "?outcome=failed")
    assert "/ui/key" in browser.current_url and KEY not in browser.current_url
    browser.find_element("id", "key").send_keys("not-the-key")
    submit(browser, "form.stacked button")
    assert browser.find_element("id", "wrong-key").is_displayed()
    # The refused key is a 401, the one error the browser may log on this way.
    assert all("/ui/key - " in e["message"] and "401" in e["message"] for e in console_errors(browser))
    browser.find_element("id", "key").send_keys(KEY)
    submit(browser, "form.stacked button")
    # Back where it was going, filters included; the key is in no URL and no script can read it.
    assert browser.current_url == f"{server.url}/ui/runs/{recorded[-1]}?outcome=failed"
    cookie = browser.get_cookie("aiqa_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert browser.execute_script("return document.cookie") == ""
    assert console_errors(browser) == []


def test_suites_page_shows_the_apis_numbers_and_a_point_per_run(signed_in, server, recorded):
    browser = signed_in
    browser.get(server.url + "/ui/")
    sections = browser.find_elements("css selector", "section.suite")
    assert [s.get_attribute("data-suite") for s in sections] == ["checkout-bot", "refund-flow"]
    for section in sections:
        suite = section.get_attribute("data-suite")
        listed = api(server, f"/v1/runs?suite={suite}&limit=200")["runs"]
        newest = listed[0]
        shown = section.find_element("css selector", ".pass-rate")
        assert float(shown.get_attribute("data-value")) == newest["pass_rate"]
        interval = section.find_element("css selector", ".interval")
        assert [float(interval.get_attribute("data-low")), float(interval.get_attribute("data-high"))] == \
            newest["pass_rate_interval"]
        points = section.find_elements("css selector", "svg.chart circle.point")
        assert len(points) == len(listed) == int(section.find_element("css selector", ".runs").text)
        # Oldest to newest, left to right, each at its run's pass rate.
        assert [float(p.get_attribute("data-value")) for p in points] == [r["pass_rate"] for r in reversed(listed)]
        assert section.find_elements("css selector", "svg.chart text.tick.x")  # dates on the axis
    assert console_errors(browser) == []
    assert screenshot(browser, "ui-suites.png").stat().st_size > 10_000


def test_run_page_failures_first_flips_and_replies_shown_as_text(signed_in, server, recorded):
    browser, run_id = signed_in, recorded[-1]
    browser.get(f"{server.url}/ui/runs/{run_id}")
    run = api(server, f"/v1/runs/{run_id}")
    compared = api(server, f"/v1/runs/{run_id}/compare?baseline=latest")
    assert float(browser.find_element("css selector", "#verdict .pass-rate").get_attribute("data-value")) == run["pass_rate"]
    assert browser.find_element("css selector", "#verdict strong").text == "Failed"  # 7/12 under the 0.8 threshold
    p_value = browser.find_element("css selector", "#baseline .p-value").get_attribute("data-value")
    assert float(p_value) == compared["mcnemar"]["p_value"]
    assert browser.find_element("css selector", "#baseline .comparison-verdict").text == compared["verdict"]
    flips = browser.find_elements("css selector", "tr.flip")
    assert [(row.get_attribute("data-flip"), row.find_element("tag name", "td").text) for row in flips] == \
        [(c["flip"], c["id"]) for c in compared["cases"]]
    statuses = [article.get_attribute("data-status") for article in browser.find_elements("css selector", "article.case")]
    assert len(statuses) == run["counts"]["cases"]
    assert statuses == sorted(statuses, key=["failed", "error", "passed"].index)
    # The reply that holds markup is shown as the text it is, and nothing of it ran.
    replies = [pre.text for pre in browser.find_elements("css selector", "pre.reply")]
    assert SCRIPT_REPLY in replies
    assert browser.find_elements("css selector", "main img, main b") == []
    assert browser.execute_script("return document.scripts.length") == 0
    assert console_errors(browser) == []
    assert screenshot(browser, "ui-run.png").stat().st_size > 10_000


def test_run_page_filters_by_outcome_and_case_type(signed_in, server, recorded):
    from selenium.webdriver.support.select import Select
    browser, run_id = signed_in, recorded[-1]
    cases = api(server, f"/v1/runs/{run_id}")["cases"]
    browser.get(f"{server.url}/ui/runs/{run_id}")
    Select(browser.find_element("id", "outcome")).select_by_value("failed")
    Select(browser.find_element("id", "type")).select_by_value("adversarial")
    submit(browser, "form.filters button")
    assert "outcome=failed" in browser.current_url and "type=adversarial" in browser.current_url
    shown = [a.get_attribute("data-case-id") for a in browser.find_elements("css selector", "article.case")]
    assert shown == [c["id"] for c in cases if c["status"] == "failed" and c["type"] == "adversarial"] != []
    Select(browser.find_element("id", "type")).select_by_value("")
    submit(browser, "form.filters button")
    shown = [a.get_attribute("data-case-id") for a in browser.find_elements("css selector", "article.case")]
    assert shown == [c["id"] for c in cases if c["status"] == "failed"]
    assert console_errors(browser) == []


def test_compare_page_puts_two_runs_side_by_side(signed_in, server, recorded):
    browser = signed_in
    browser.get(f"{server.url}/ui/compare?current={recorded[-1]}&baseline={recorded[0]}")
    compared = api(server, f"/v1/runs/{recorded[-1]}/compare?baseline={recorded[0]}&unchanged=true")
    assert browser.find_element("css selector", "#verdict .comparison-verdict").text == compared["verdict"]
    rows = browser.find_elements("css selector", "tr.pair")
    assert [(r.get_attribute("data-case-id"), r.get_attribute("data-flip")) for r in rows] == \
        [(c["id"], c["flip"]) for c in compared["cases"]]
    rates = [float(cell.get_attribute("data-value")) for cell in browser.find_elements("css selector", "td.pass-rate")]
    assert rates == [compared["baseline"]["pass_rate"], compared["current"]["pass_rate"]]
    assert console_errors(browser) == []


def test_evaluations_page_charts_each_recorded_value_with_its_interval(signed_in, server, recorded):
    browser = signed_in
    browser.get(server.url + "/ui/evaluations")
    recorded_f1 = api(server, "/v1/evaluations?metric=f1")["evaluations"]
    section = browser.find_element("css selector", "section.evaluation[data-metric='f1']")
    assert section.get_attribute("data-name") == "nightly <b>eval</b>"  # escaped, not markup
    newest = section.find_element("css selector", ".series[data-key='f1'] .newest")
    assert float(newest.get_attribute("data-value")) == recorded_f1[0]["result"]["f1"]
    points = section.find_elements("css selector", "circle.point")
    assert [float(p.get_attribute("data-value")) for p in points] == [e["result"]["f1"] for e in reversed(recorded_f1)]
    assert len(section.find_elements("css selector", "line.interval")) == len(recorded_f1)
    assert console_errors(browser) == []


def test_try_it_scores_a_text_as_the_api_does(signed_in, server):
    browser = signed_in
    browser.get(server.url + "/ui/try/classify")
    from selenium.webdriver.support.select import Select
    Select(browser.find_element("id", "model")).select_by_value("tiny-classifier")
    box = browser.find_element("id", "inputs")
    box.clear()
    box.send_keys("a <script>alert(3)</script> review")
    submit(browser, "#try-form button")
    shown = json.loads(browser.find_element("css selector", "pre.answer").text)
    direct = requests.post(server.url + "/v1/classify", headers=AUTH, timeout=30,
                           json={"model": "tiny-classifier", "inputs": ["a <script>alert(3)</script> review"]}).json()
    assert [r["label"] for r in shown["results"][0]] == [r["label"] for r in direct["results"][0]]
    assert [r["score"] for r in shown["results"][0]] == pytest.approx([r["score"] for r in direct["results"][0]], abs=1e-6)
    assert console_errors(browser) == []
    # A bad field is the API's 422, shown on the page (and the one error the browser logs here).
    browser.get(server.url + "/ui/try/generate")
    Select(browser.find_element("id", "model")).select_by_value("tiny-lm")
    field = browser.find_element("id", "max_new_tokens")
    field.clear()
    field.send_keys("1.5")
    submit(browser, "#try-form button")
    problem = browser.find_element("id", "problem")
    assert problem.get_attribute("data-status") == "422" and "max_new_tokens" in problem.text
    assert [e["message"].split(" - ")[0] for e in console_errors(browser)] == [server.url + "/ui/try/generate"]


def test_an_unknown_run_is_a_404_page_and_every_page_forbids_scripts(signed_in, server):
    browser = signed_in
    browser.get(server.url + "/ui/runs/no-such-run")
    assert "404" in browser.find_element("tag name", "h1").text
    assert "Traceback" not in browser.page_source
    assert [e["message"].split(" - ")[0] for e in console_errors(browser)] == [server.url + "/ui/runs/no-such-run"]
    cookies = {"aiqa_key": KEY}
    for path in ("/ui/", "/ui/runs/no-such-run", "/ui/evaluations", "/ui/try/", "/ui/key"):
        answer = requests.get(server.url + path, cookies=cookies, timeout=30, allow_redirects=False)
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy and "'unsafe-inline'" not in policy
        assert answer.headers["Content-Type"].startswith("text/html")


def test_the_html_report_opens_offline_and_shows_every_case(browser, server, recorded, tmp_path):
    """The runner's self-contained report, with the network off: every case, styled, no script."""
    from aiqa_client import html_report
    from aiqa_client.comparison import compare_runs
    report = {**run_body(4, {0, 2, 5, 7}), "passed": False, "counts": {"cases": 12, "passed": 8, "failed": 4, "errors": 0},
              "pass_rate": 8 / 12, "pass_rate_interval": [0.39, 0.86]}
    baseline = api(server, f"/v1/runs/{recorded[0]}")
    path = tmp_path / "report.html"
    html_report.write_html(report, str(path), compare_runs({**report, "id": "this run"}, baseline))
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        browser.get(path.as_uri())
        shown = [a.get_attribute("data-case-id") for a in browser.find_elements("css selector", "article.case")]
        assert sorted(shown) == sorted(c["id"] for c in report["cases"]) and len(shown) == 12
        assert [a.get_attribute("data-status") for a in browser.find_elements("css selector", "article.case")][:4] == \
            ["failed"] * 4
        assert SCRIPT_REPLY in [pre.text for pre in browser.find_elements("css selector", "pre.reply")]
        assert browser.find_elements("css selector", "main img, main b") == []
        assert browser.execute_script("return document.scripts.length") == 0
        # The inline styles applied (the verdict box is tinted), with nothing fetched.
        tint = browser.find_element("id", "verdict").value_of_css_property("background-color")
        assert tint not in ("rgba(0, 0, 0, 0)", "transparent")
        assert browser.find_elements("css selector", "tr.flip")
        assert console_errors(browser) == []
        screenshot(browser, "ui-report.png")
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
