"""The self-contained HTML report of a run (aiqa run --html): every case, failures first, escaped,
styles inline, no script; written by `aiqa run` beside the other reports. tests/ui opens it in a
real browser with the network off."""
import html
import json
import re

from aiqa_client import html_report
from aiqa_client.cli import main
from suites import run_aiqa, write_suite
from test_runner_bots import suite_for

MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def report(statuses: list[str]) -> dict:
    cases = [{"id": f"case <{i}>", "type": "adversarial", "status": status, "message": "",
              "attempts": [] if status == "error" else [{"passed": status == "passed", "reason": f"reason {i}",
                                                         "prompt": MARKUP, "reply": MARKUP, "similarity": i / 10,
                                                         "retried": True}]}
             for i, status in enumerate(statuses)]
    passed = statuses.count("passed")
    return {"suite": "bot <b>", "target": {"type": "http", "url": "http://bot/chat"}, "passed": False,
            "pass_rate": passed / len(statuses), "pass_rate_interval": [0.1, 0.9], "pass_rate_threshold": 0.8,
            "failed_required": [], "counts": {"cases": len(statuses), "passed": passed,
                                              "failed": statuses.count("failed"), "errors": statuses.count("error")},
            "cases": cases}


def test_every_case_is_shown_failures_first_and_as_text():
    page = html_report.render(report(["passed", "failed", "error", "passed", "failed"]))
    statuses = re.findall(r'<article class="case \w+" id="[^"]*" data-case-id="[^"]*" data-status="(\w+)"', page)
    assert statuses == ["failed", "failed", "error", "passed", "passed"]
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert page.count(html.escape(MARKUP, quote=False)) == 2 * 4  # prompt and reply of each attempt
    assert re.findall(r'data-name="(\w+)" data-value="([^"]+)"', page)[:1] == [("similarity", "0.1")]
    assert 'data-name="retried"' not in page  # a boolean is no measured number
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "<link rel=\"stylesheet\"" not in page and ":root {" in page  # the styles are in the file


def test_each_attempt_says_whether_it_passed_failed_or_errored():
    run = report(["error"])
    run["cases"][0]["attempts"] = [{"passed": True, "status": "passed", "reason": "held"},
                                   {"passed": False, "status": "error", "reason": "target answered 500"},
                                   {"passed": False, "reason": "leaked"}]  # a report from before status
    page = html_report.render(run)
    assert re.findall(r'Attempt \d: (\w+)', page) == ["passed", "error", "failed"]


def test_the_baseline_is_shown_when_there_is_one():
    from aiqa_client.comparison import compare_runs
    now, before = report(["failed", "passed"]), report(["passed", "passed"])
    comparison = compare_runs({**now, "id": "this run"}, {**before, "id": "nightly-1"})
    page = html_report.render(now, comparison)
    assert "nightly-1" in page and 'data-flip="pass-&gt;fail"' in page
    assert "no earlier run" in html_report.render(now, None, "no earlier run of suite 'x'")


def test_aiqa_run_writes_the_html_report_by_default_and_where_asked(tmp_path, weak_bot):
    suite = write_suite(tmp_path, suite_for(weak_bot, thresholds={"pass_rate": 0.1}))
    run_aiqa(tmp_path, suite)
    written = (tmp_path / "reports" / "report.html").read_text()
    data = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert written.count('<article class="case') == data["counts"]["cases"] == 6
    for case in data["cases"]:
        assert f'data-case-id="{html.escape(case["id"])}"' in written
    elsewhere = tmp_path / "elsewhere" / "page.html"
    elsewhere.parent.mkdir()
    main(["run", suite, "--report-dir", str(tmp_path / "reports"), "--html", str(elsewhere), "--quiet"])
    assert elsewhere.read_text().count('<article class="case') == 6
