"""The cache of the target's replies (aiqa_client/runner/cache.py, `aiqa run --cache`)."""
import json

from suites import http_target, junit, run_aiqa, write_suite

CASES = [{"id": "capital", "type": "functional", "prompt": "What is the capital of France?", "repeats": 3,
          "expect": [{"contains": "Paris"}]},
         {"id": "injection", "type": "adversarial", "pack": "prompt-injection", "limit": 2}]


def suite(bot, **target) -> dict:
    return {"name": "cached", "canary": "AIQA-CANARY-7F3A9C21B4",
            "target": http_target(bot, system="You are a shop assistant.", **target), "cases": CASES}


def test_a_second_run_calls_the_target_zero_times_while_repeats_each_called_it_the_first(tmp_path, good_bot):
    path, cache = write_suite(tmp_path, suite(good_bot)), str(tmp_path / "replies")
    assert run_aiqa(tmp_path, path, "--cache-dir", cache) == 0
    assert len(good_bot.calls) == 3 + 2  # three repeats are three calls, not one copied
    first = json.loads((tmp_path / "reports" / "report.json").read_text())["cases"]
    assert run_aiqa(tmp_path, path, "--cache", "--cache-dir", cache) == 0
    assert len(good_bot.calls) == 5
    second = json.loads((tmp_path / "reports" / "report.json").read_text())["cases"]
    assert [c["attempts"] for c in second] == [c["attempts"] for c in first]
    assert run_aiqa(tmp_path, path, "--cache-dir", cache, "--no-cache") == 0
    assert len(good_bot.calls) == 10
    assert run_aiqa(tmp_path, path, "--cache-dir", cache, "--cache-ttl", "0") == 0
    assert len(good_bot.calls) == 15  # every reply too old: asked again


def test_another_target_setting_or_system_prompt_is_another_key(tmp_path, good_bot):
    cache = str(tmp_path / "replies")
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite(good_bot)), "--cache-dir", cache) == 0
    changed = suite(good_bot)
    changed["target"]["system"] = "You are a bank's assistant."
    assert run_aiqa(tmp_path, write_suite(tmp_path, changed), "--cache-dir", cache) == 0
    assert len(good_bot.calls) == 10
    changed["target"]["headers"] = {"X-Build": "42"}
    assert run_aiqa(tmp_path, write_suite(tmp_path, changed), "--cache-dir", cache) == 0
    assert len(good_bot.calls) == 15


def test_an_error_is_never_kept(tmp_path, scripted):
    bot = scripted([(500, {}, {"title": "down"}), (200, {}, {"reply": {"text": "Paris."}})])
    case = {"id": "capital", "type": "functional", "prompt": "Capital of France?", "expect": [{"contains": "Paris"}]}
    path, cache = write_suite(tmp_path, {"target": http_target(bot), "cases": [case]}), str(tmp_path / "replies")
    assert run_aiqa(tmp_path, path, "--cache-dir", cache) == 1
    assert junit(tmp_path)["cases"] == {"capital": "error"}
    assert run_aiqa(tmp_path, path, "--cache-dir", cache) == 0  # asked again, and kept
    assert run_aiqa(tmp_path, path, "--cache-dir", cache) == 0
    assert len(bot.arrivals) == 2


def test_a_negative_ttl_is_refused(tmp_path, good_bot):
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite(good_bot)), "--cache", "--cache-ttl", "-1") == 2
    assert good_bot.calls == []


def test_an_error_is_neither_a_pass_nor_a_failure_and_has_its_own_budget(tmp_path, scripted):
    capital = {"type": "functional", "prompt": "Capital of France?", "expect": [{"contains": "Paris"}]}
    answers = [(200, {}, {"reply": {"text": "Paris."}}), (500, {}, {"title": "down"}),
               (200, {}, {"reply": {"text": "Paris."}})]
    cases = [{"id": f"capital-{i}", **capital} for i in range(3)]
    for budget, expected in ((0, 1), (1, 0)):
        bot = scripted(answers)
        suite = {"target": http_target(bot), "cases": cases, "thresholds": {"max_errors": budget}}
        assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == expected
        report = json.loads((tmp_path / "reports" / "report.json").read_text())
        assert report["pass_rate"] == 1.0 and report["counts"]["errors"] == 1 and report["max_errors"] == budget
    bot = scripted([(500, {}, {"title": "down"})])
    suite = {"target": http_target(bot), "cases": cases[:1], "thresholds": {"max_errors": 5}}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == 1  # nothing decided: nothing passed
