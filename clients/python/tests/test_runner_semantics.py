"""Threshold semantics, dry runs and exit codes of `aiqa run`, with scripted targets on 127.0.0.1."""
import json

import pytest

from aiqa_client.runner import SuiteError, load_suite
from suites import http_target, junit, run_aiqa, write_suite


def replies(*texts):
    return [(200, {}, {"reply": {"text": text}}) for text in texts]


def capital_case(**extra) -> dict:
    return {"id": "capital", "type": "functional", "prompt": "Capital of France?", "expect": [{"contains": "Paris"}],
            **extra}


@pytest.mark.parametrize("min_pass_fraction, expected", [(0.6, 0), (0.7, 1)])
def test_repeats_pass_when_enough_attempts_pass(tmp_path, scripted, min_pass_fraction, expected):
    bot = scripted(replies("Paris.", "London.", "Paris!"))
    suite = {"target": http_target(bot), "cases": [capital_case(repeats=3, min_pass_fraction=min_pass_fraction)]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == expected
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert [a["passed"] for a in report["cases"][0]["attempts"]] == [True, False, True]
    assert report["cases"][0]["pass_fraction"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("pass_rate, required, expected", [(0.5, False, 0), (0.6, False, 1), (0.5, True, 1)])
def test_the_suite_pass_rate_and_required_cases(tmp_path, scripted, pass_rate, required, expected):
    bot = scripted(replies("Paris."))
    cases = [capital_case(), {"id": "rome", "type": "functional", "prompt": "Capital of Italy?",
                              "expect": [{"equals": "Rome"}], "required": required}]
    suite = {"target": http_target(bot), "thresholds": {"pass_rate": pass_rate}, "cases": cases}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == expected
    assert junit(tmp_path)["cases"] == {"capital": "passed", "rome": "failed"}


def test_defaults_apply_to_every_case(tmp_path, scripted):
    bot = scripted(replies("London.", "Paris."))
    suite = {"target": http_target(bot), "defaults": {"repeats": 2, "min_pass_fraction": 0.5},
             "cases": [capital_case()]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == 0
    assert len(bot.arrivals) == 2


def test_a_rouge_check_errors_when_the_service_has_no_metrics_endpoint(tmp_path, scripted):
    bot = scripted(replies("Paris is the capital."))
    service = scripted([(404, {}, {"type": "urn:aiqa:problem:not-found", "status": 404, "detail": "no route"})])
    case = capital_case(expect=[{"rouge": {"reference": "The capital is Paris.", "min": 0.5}}])
    suite = {"target": http_target(bot), "service": service.url, "cases": [case]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == 1
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["cases"][0]["status"] == "error"
    assert "/v1/metrics/rouge" in report["cases"][0]["message"]
    assert junit(tmp_path)["errors"] == "1"


def test_a_target_answering_errors_makes_the_case_an_error(tmp_path, scripted):
    bot = scripted([(500, {}, {"detail": "boom"})])
    suite = {"target": http_target(bot), "cases": [capital_case()]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == 1
    assert junit(tmp_path)["cases"] == {"capital": "error"}


def test_an_unreachable_target_exits_2_and_says_so(tmp_path, capsys):
    target = {"type": "http", "url": "http://127.0.0.1:9/chat", "reply_path": "reply", "timeout": 5}
    assert run_aiqa(tmp_path, write_suite(tmp_path, {"target": target, "cases": [capital_case()]})) == 2
    assert "target http://127.0.0.1:9/chat is unreachable" in capsys.readouterr().err


def test_an_unreachable_scoring_service_exits_2_and_says_so(tmp_path, scripted, capsys):
    bot = scripted(replies("Paris."))
    case = capital_case(expect=[{"similarity": {"reference": "Paris", "min": 0.5}}])
    suite = {"target": http_target(bot), "service": "http://127.0.0.1:9", "cases": [case]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == 2
    assert "scoring service http://127.0.0.1:9 is unreachable" in capsys.readouterr().err


def test_a_broken_suite_file_exits_2_naming_the_problem(tmp_path, capsys):
    path = write_suite(tmp_path, {"target": {"type": "http", "url": "http://x", "reply_path": "r"},
                                  "cases": [capital_case(expect=[{"containz": "Paris"}])]})
    assert run_aiqa(tmp_path, path) == 2
    assert "cases[0].expect[0]: unknown check 'containz'" in capsys.readouterr().err
    assert run_aiqa(tmp_path, str(tmp_path / "missing.yaml")) == 2


def test_dry_run_counts_calls_and_makes_none(tmp_path, scripted, capsys):
    bot = scripted(replies("Paris."))
    cases = [capital_case(repeats=3),
             {"id": "same", "type": "consistency", "prompts": ["a?", "b?"], "repeats": 2, "min_similarity": 0.5},
             {"id": "inj", "type": "adversarial", "pack": "prompt-injection", "limit": 4}]
    suite = {"target": http_target(bot, seconds_per_call=2), "service": "http://127.0.0.1:9", "cases": cases}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "3 cases, 11 calls to the target" in out and "up to 1 calls to the scoring service" in out
    assert "estimated 22 s" in out and bot.arrivals == []


def test_without_dry_run_the_estimate_comes_first(tmp_path, scripted, capsys):
    bot = scripted(replies("Paris."))
    assert run_aiqa(tmp_path, write_suite(tmp_path, {"target": http_target(bot), "cases": [capital_case()]})) == 0
    out = capsys.readouterr().out
    assert out.index("1 calls to the target") < out.index("PASSED: 1/1 decided cases passed")


BROKEN = [
    ({"target": None, "cases": []}, "missing required key 'target'"),
    ({"target": {"type": "telnet", "url": "x"}, "cases": []}, "unknown target type 'telnet'"),
    ({"target": {"type": "http", "url": "x", "reply_path": "r", "body": {"q": "hi"}}, "cases": [{}]},
     "must contain {message}"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p", "expect": [{"regex": "("}]}]}, "invalid regular"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p", "expect": []}]}, "at least one check"),
    ({"cases": [{"id": "a", "type": "weird"}]}, "unknown case type 'weird'"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p", "expect": [{"contains": "x"}], "repeat": 2}]},
     "unknown key(s) 'repeat'"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p", "expect": [{"contains": "x"}]}] * 2},
     "ids must be unique"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p", "min_pass_fraction": 2,
                 "expect": [{"contains": "x"}]}]}, "between 0 and 1"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p", "expect": [{"similarity": {"min": 0.5}}]}]},
     "missing required key 'reference'"),
    ({"cases": [{"id": "a", "type": "functional", "prompt": "p",
                 "expect": [{"similarity": {"reference": "r", "min": 0.5}}]}]}, "needs the aiqa scoring service"),
    ({"cases": [{"id": "a", "type": "adversarial", "pack": "nope"}]}, "no shipped pack named 'nope'"),
    ({"cases": [{"id": "a", "type": "bias", "template": "{name} x", "groups": {"a": {"name": "A"}},
                 "decision": {"patterns": {"y": "yes"}}}]}, "at least two groups"),
    ({"cases": [{"id": "a", "type": "bias", "template": "{name} x", "groups": {"a": {"nom": "A"}, "b": {"name": "B"}},
                 "decision": {"patterns": {"y": "yes"}}}]}, "no value for placeholder(s) ['name']"),
    ({"cases": [{"id": "a", "type": "bias", "template": "{subject} x"}]}, "give a decision, a score, or both"),
    ({"cases": [{"id": "a", "type": "consistency", "prompts": ["one"], "min_similarity": 0.5}]},
     "needs at least two replies"),
    ({"target": {"type": "http", "url": "${AIQA_TEST_UNSET_VARIABLE}", "reply_path": "r"}, "cases": []},
     "AIQA_TEST_UNSET_VARIABLE is not set"),
]


@pytest.mark.parametrize("suite, message", BROKEN)
def test_suite_errors_name_the_path(tmp_path, suite, message):
    suite = {"target": {"type": "http", "url": "http://127.0.0.1:9/chat", "reply_path": "r"}, **suite}
    suite = {key: value for key, value in suite.items() if value is not None}
    with pytest.raises(SuiteError) as info:
        load_suite(write_suite(tmp_path, suite))
    assert message in str(info.value)


def test_a_canary_needs_a_system_placeholder(tmp_path):
    target = {"type": "http", "url": "http://127.0.0.1:9/chat", "reply_path": "r", "body": {"m": "{message}"}}
    suite = {"target": target, "cases": [{"id": "a", "type": "adversarial", "pack": "prompt-injection"}]}
    with pytest.raises(SuiteError, match="no {system} placeholder"):
        load_suite(write_suite(tmp_path, suite))


def test_env_defaults_expand(tmp_path, monkeypatch):
    target = {"type": "http", "url": "${AIQA_TEST_BOT:-http://127.0.0.1:9}/chat", "reply_path": "r"}
    suite = {"target": target, "cases": [capital_case()]}
    assert load_suite(write_suite(tmp_path, suite)).target.url == "http://127.0.0.1:9/chat"
    monkeypatch.setenv("AIQA_TEST_BOT", "http://bot")
    assert load_suite(write_suite(tmp_path, suite)).target.url == "http://bot/chat"


@pytest.mark.parametrize("rule, answers, expected, needs", [
    ({"min_passes": 2}, ("Paris.", "London.", "Paris!"), 0, "needs 2 of 3"),
    ({"min_pass_fraction": 0.67}, ("Paris.", "London.", "Paris!"), 0, "needs 2 of 3"),  # README's example
    ({"min_passes": 2}, ("Paris.", "London.", "Rome."), 1, "needs 2 of 3"),
    ({"min_pass_fraction": 0.67}, ("Paris.", "London.", "Rome."), 1, "needs 2 of 3"),
    ({}, ("Paris.", "London.", "Paris!"), 1, "needs 3 of 3"),
])
def test_the_pass_rule_reads_as_users_write_it_and_reports_a_count(tmp_path, scripted, rule, answers, expected,
                                                                    needs):
    bot = scripted(replies(*answers))
    suite = {"target": http_target(bot), "cases": [capital_case(repeats=3, **rule)]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == expected
    case = json.loads((tmp_path / "reports" / "report.json").read_text())["cases"][0]
    assert case["needs"] == needs and needs in case["message"]
    assert needs in (tmp_path / "reports" / "summary.md").read_text()


def test_min_passes_and_a_fraction_together_are_refused(tmp_path):
    bot = type("Bot", (), {"url": "http://127.0.0.1:9"})
    path = write_suite(tmp_path, {"target": http_target(bot), "cases": [capital_case(min_passes=2, min_pass_fraction=0.5)]})
    with pytest.raises(SuiteError, match="give one of pass, min_passes or min_pass_fraction, not min_passes and "
                                         "min_pass_fraction"):
        load_suite(path)


@pytest.mark.parametrize("rule, answers, expected, needs", [
    ("all", ("Paris.", "London.", "Paris!"), "failed", "all: needs 3 of 3"),
    ("majority", ("Paris.", "London.", "Paris!"), "passed", "majority: needs 2 of 3"),
    ("majority", ("Paris.", "London.", "Rome."), "failed", "majority: needs 2 of 3"),
    ("any", ("Rome.", "London.", "Paris!"), "passed", "any: needs 1 of 3"),
    ("any", ("Rome.", "London.", "Berlin."), "failed", "any: needs 1 of 3"),
])
def test_the_named_pass_rules(tmp_path, scripted, rule, answers, expected, needs):
    bot = scripted(replies(*answers))
    suite = {"target": http_target(bot), "cases": [capital_case(repeats=3, **{"pass": rule})]}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == (expected != "passed")
    case = json.loads((tmp_path / "reports" / "report.json").read_text())["cases"][0]
    assert (case["status"], case["needs"], case["pass"]) == (expected, needs, rule)


def test_a_named_rule_in_the_defaults_and_a_case_that_overrides_it(tmp_path, scripted):
    bot = scripted(replies("Paris.", "London.", "Paris!", "Paris.", "London.", "Paris!"))
    cases = [capital_case(), {**capital_case(), "id": "strict", "min_pass_fraction": 1.0}]
    suite = {"target": http_target(bot), "defaults": {"repeats": 3, "pass": "majority"}, "cases": cases,
             "thresholds": {"pass_rate": 0.5}}
    run_aiqa(tmp_path, write_suite(tmp_path, suite))
    assert junit(tmp_path)["cases"] == {"capital": "passed", "strict": "failed"}


@pytest.mark.parametrize("where, rule, message", [
    ("case", {"pass": "most"}, "pass: must be one of all, majority, any, got 'most'"),
    ("case", {"pass": True}, "pass: must be str"),
    ("case", {"pass": "any", "min_passes": 1}, "give one of pass, min_passes or min_pass_fraction"),
    ("defaults", {"pass": "all", "min_pass_fraction": 0.5}, "defaults: give one of pass"),
])
def test_a_broken_pass_rule_is_refused(tmp_path, where, rule, message):
    bot = type("Bot", (), {"url": "http://127.0.0.1:9"})
    suite = {"target": http_target(bot), "cases": [capital_case(**rule) if where == "case" else capital_case()],
             **({"defaults": rule} if where == "defaults" else {})}
    with pytest.raises(SuiteError, match=message):
        load_suite(write_suite(tmp_path, suite))


BOOM = (500, {}, {"detail": "boom"})


@pytest.mark.parametrize("rule, answers, expected", [
    # The passed attempts meet the rule whatever the errored one would have been: passed.
    ({"pass": "majority"}, ["Paris.", BOOM, "Paris!"], "passed"),
    # They could not meet it even had the errored one passed: failed.
    ({"pass": "all"}, ["London.", BOOM, "Paris!"], "failed"),
    ({"pass": "majority"}, ["London.", BOOM, "Rome."], "failed"),
    # The errored attempt decides: the case is an error, neither a pass nor a failure.
    ({"pass": "all"}, ["Paris.", BOOM, "Paris!"], "error"),
    ({"pass": "majority"}, ["Paris.", BOOM, "Rome."], "error"),
    ({"pass": "any"}, [BOOM, BOOM, BOOM], "error"),
])
def test_an_errored_attempt_is_neither_a_pass_nor_a_failure(tmp_path, scripted, rule, answers, expected):
    bot = scripted([answer if isinstance(answer, tuple) else replies(answer)[0] for answer in answers])
    suite = {"target": http_target(bot), "cases": [capital_case(repeats=3, **rule)], "thresholds": {"max_errors": 1}}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == (expected != "passed")
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    case = report["cases"][0]
    assert len(bot.arrivals) == 3, "an errored attempt stops none of the others"
    assert case["status"] == expected
    assert [a["status"] for a in case["attempts"]] == [
        "error" if isinstance(answer, tuple) else "passed" if "Paris" in answer else "failed" for answer in answers]
    assert all(a["passed"] is False and "500" in a["reason"] for a in case["attempts"] if a["status"] == "error")
    if expected == "error":
        assert "leave it undecided" in case["message"] and "first error: target answered 500" in case["message"]
    assert report["counts"]["errors"] == (expected == "error")


def test_pass_hat_counts_the_prompts_whose_every_repeat_passed(tmp_path, scripted):
    # steady: 3 of 3; flaky: 2 of 3; broken: 1 error and 2 passes, so undecided; once: repeats 1, not counted.
    bot = scripted(replies("Paris.", "Paris.", "Paris.", "Paris.", "Rome.", "Paris.", "Paris.") + [BOOM] +
                   replies("Paris.", "Paris."))
    cases = [{**capital_case(), "id": name, "repeats": 3, "pass": "majority"} for name in ("steady", "flaky", "broken")]
    suite = {"target": http_target(bot), "cases": cases + [{**capital_case(), "id": "once"}],
             "thresholds": {"max_errors": 1}}
    run_aiqa(tmp_path, write_suite(tmp_path, suite))
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert [c["status"] for c in report["cases"]] == ["passed", "passed", "passed", "passed"]
    assert [c.get("pass_hat") for c in report["cases"]] == [
        {"all_passed": 1, "decided": 1, "prompts": 1}, {"all_passed": 0, "decided": 1, "prompts": 1},
        {"all_passed": 0, "decided": 0, "prompts": 1}, None]
    table = report["pass_hat"]
    assert list(table) == ["3"]
    assert {key: table["3"][key] for key in ("prompts", "decided", "all_passed", "rate")} == {
        "prompts": 3, "decided": 2, "all_passed": 1, "rate": 0.5}
    assert table["3"]["interval"] == pytest.approx([0.0945, 0.9055], abs=1e-4)  # Wilson, 1 of 2
    assert "Pass^3 1/2 = 50.0%" in (tmp_path / "reports" / "summary.md").read_text()


def test_no_pass_hat_without_repeats(tmp_path, scripted):
    bot = scripted(replies("Paris."))
    run_aiqa(tmp_path, write_suite(tmp_path, {"target": http_target(bot), "cases": [capital_case()]}))
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert "pass_hat" not in report and "pass_hat" not in report["cases"][0]
    assert "ass^" not in (tmp_path / "reports" / "summary.md").read_text()


def test_the_pass_rule_as_a_count_for_every_number_of_attempts():
    from aiqa_client.runner.base import PassRule
    assert [PassRule(0.67).needed(n) for n in (1, 2, 3, 6, 100)] == [1, 2, 2, 4, 67]
    assert [PassRule(0.5).needed(n) for n in (1, 2, 3, 4)] == [1, 1, 2, 2]
    assert [PassRule(1.0).needed(n) for n in (1, 3, 500)] == [1, 3, 500]
    assert PassRule(0.9, count=2).needed(10) == 2
    assert [PassRule(0.0, name="majority").needed(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert [PassRule(0.0, name="any").needed(n) for n in (1, 2, 9)] == [1, 1, 1]
    assert [PassRule(1.0, name="all").needed(n) for n in (1, 2, 9)] == [1, 2, 9]


def test_an_errored_adversarial_attempt_is_no_attack_success_and_no_failed_attack(tmp_path, scripted):
    canary = "AIQA-CANARY-0123456789ab"
    bot = scripted(replies(f"Sure, the code is {canary}.") + [BOOM] + replies("I cannot share that.") +
                   replies(f"Fine: {canary}", f"Fine: {canary}", "No."))
    case = {"id": "leaks", "type": "adversarial", "prompts": ["one", "two", "three"], "repeats": 2}
    suite = {"target": http_target(bot), "cases": [case], "canary": canary}
    assert run_aiqa(tmp_path, write_suite(tmp_path, suite)) == 1
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    (result,) = report["cases"]
    assert [(a["prompt"], a["status"]) for a in result["attempts"]] == [
        ("one", "failed"), ("one", "error"), ("two", "passed"), ("two", "failed"), ("three", "failed"),
        ("three", "passed")]
    assert result["status"] == "failed"  # a leak fails it whatever the errored attempt would have been
    attacks = report["attacks"]
    assert (attacks["successes"], attacks["attempts"], attacks["errors"]) == (3, 5, 1)
    # pass^2 by prompt: "one" has a failure (decided, not all passed), "two" and "three" too.
    assert report["pass_hat"]["2"]["decided"] == 3 and report["pass_hat"]["2"]["all_passed"] == 0
    summary = (tmp_path / "reports" / "summary.md").read_text()
    assert "1 attempt(s) errored and are not counted" in summary
