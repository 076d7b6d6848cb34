"""`aiqa run --record --baseline --fail-on`: the comparison offline and against a live server, the
exit code of each --fail-on on a passing, a regressed and an unusable run, and where the flips go."""
import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from aiqa_client.cli import main
from suites import http_target, write_suite

CASES = 12  # 12 pass->fail flips and none back: McNemar exact p = 2 / 2**12


def replies(text: str, times: int = CASES):
    return [(200, {}, {"reply": {"text": text}})] * times


def suite_for(bot, name: str, service=None, url=None) -> dict:
    target = http_target(bot) if bot else {**http_target(type("Bot", (), {"url": url})), "timeout": 2}
    cases = [{"id": f"capital-{i:02d}", "type": "functional", "prompt": f"Capital of France? ({i})",
              "expect": [{"contains": "Paris"}]} for i in range(CASES)]
    suite = {"name": name, "target": target, "thresholds": {"pass_rate": 0.0}, "cases": cases}
    return {**suite, "service": service} if service else suite


def run(tmp_path, suite: dict, *options, folder="reports") -> tuple[int, dict]:
    path = write_suite(tmp_path, suite, f"{folder}.yaml")
    code = main(["run", path, "--report-dir", str(tmp_path / folder), "--quiet", *options])
    report_path = tmp_path / folder / "report.json"
    return code, json.loads(report_path.read_text()) if report_path.exists() else {}


@pytest.fixture
def baseline_report(tmp_path, scripted) -> str:
    code, _ = run(tmp_path, suite_for(scripted(replies("Paris.")), "gate"), folder="baseline")
    assert code == 0
    return str(tmp_path / "baseline" / "report.json")


@pytest.mark.parametrize("fail_on, passing, regressed", [
    ("threshold", 0, 0), ("regression", 0, 1), ("both", 0, 1), (None, 0, 1)])
def test_each_fail_on_against_a_report_file_offline(tmp_path, scripted, baseline_report, fail_on, passing, regressed):
    options = ["--baseline", baseline_report] + (["--fail-on", fail_on] if fail_on else [])
    same, report = run(tmp_path, suite_for(scripted(replies("Paris.")), "gate"), *options, folder="same")
    assert same == passing and report["comparison"]["verdict"] == "no significant change"
    worse, report = run(tmp_path, suite_for(scripted(replies("London.")), "gate"), *options, folder="worse")
    assert worse == regressed
    comparison = report["comparison"]
    assert comparison["verdict"] == "regressed" and comparison["flips"]["pass->fail"] == CASES
    assert comparison["mcnemar"]["p_value"] == pytest.approx(2 / 2 ** CASES)
    assert report["gate"]["exit_code"] == regressed and report["pass_rate_interval"][0] == 0.0


@pytest.mark.parametrize("fail_on", ["threshold", "regression", "both"])
def test_an_unusable_target_or_baseline_is_exit_2_whatever_fail_on_says(tmp_path, scripted, baseline_report, fail_on):
    from aiqa_fixtures import free_port
    down = f"http://127.0.0.1:{free_port()}"
    code, _ = run(tmp_path, suite_for(None, "gate", url=down), "--baseline", baseline_report, "--fail-on", fail_on,
                  folder="down")
    assert code == 2
    missing = tmp_path / "no-such-report.json"
    code, _ = run(tmp_path, suite_for(scripted(replies("Paris.")), "gate"), "--baseline", str(missing),
                  "--fail-on", fail_on, folder="missing")
    assert code == 2
    other = suite_for(scripted(replies("Paris.")), "another-suite")
    assert run(tmp_path, other, "--baseline", baseline_report, folder="other")[0] == 2


def test_record_and_latest_against_a_live_server(tmp_path, scripted, runs_server, monkeypatch, capsys):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_SHA", "3f2a9c1")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    name = f"gate-{uuid.uuid4().hex[:8]}"
    bot = scripted(replies("Paris.") + replies("London."))  # one target: the first run passes, the second regresses
    options = ["--record", "--label", "model_version=v7", "--baseline", "latest", "--baseline-label", "branch=main"]
    first, report = run(tmp_path, suite_for(bot, name, service=runs_server.url), *options, folder="first")
    assert first == 0 and "comparison" not in report
    assert "baseline: none (no earlier run" in capsys.readouterr().out
    second, report = run(tmp_path, suite_for(bot, name, service=runs_server.url), *options, folder="second")
    assert second == 1 and report["comparison"]["verdict"] == "regressed"
    out = capsys.readouterr().out
    assert out.index("compared with") < out.index("pass->fail") < out.index("wrote ") < out.index("FAILED")
    properties = {p.get("name"): p.get("value") for p in
                  ET.parse(tmp_path / "second" / "junit.xml").getroot().iter("property")}
    assert properties["verdict"] == "regressed" and properties["flip.capital-03"] == "pass->fail"
    assert properties["flips.pass->fail"] == str(CASES) and properties["pass_rate_interval"].startswith("95% CI")
    assert "pass->fail" in summary.read_text() and "regressed" in summary.read_text()
    from aiqa_client import Client
    with Client(runs_server.url) as client:
        runs = list(client.runs.list(suite=name))
    assert [r.counts["passed"] for r in runs] == [0, CASES]  # newest first
    assert runs[0].labels == {"git_sha": "3f2a9c1", "branch": "main", "model_version": "v7"}


def test_a_report_with_repeats_and_an_errored_attempt_is_recorded_as_it_is(tmp_path, scripted, runs_server):
    name = f"repeats-{uuid.uuid4().hex[:8]}"
    bot = scripted([(200, {}, {"reply": {"text": "Paris."}}), (500, {}, {"detail": "boom"}),
                    (200, {}, {"reply": {"text": "Paris!"}})])
    suite = {"name": name, "target": http_target(bot), "service": runs_server.url,
             "cases": [{"id": "capital", "type": "functional", "prompt": "Capital of France?", "repeats": 3,
                        "pass": "majority", "expect": [{"contains": "Paris"}]}]}
    code, report = run(tmp_path, suite, "--record")
    assert code == 0 and report["pass_hat"]["3"]["decided"] == 0
    from aiqa_client import Client
    with Client(runs_server.url) as client:
        (stored,) = list(client.runs.list(suite=name))
        case = client.runs.get(stored.id).cases[0]
    assert [attempt["status"] for attempt in case["attempts"]] == ["passed", "error", "passed"]
    assert case["pass_hat"] == {"all_passed": 0, "decided": 0, "prompts": 1} and case["pass"] == "majority"
