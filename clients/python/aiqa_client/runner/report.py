"""The run's results as a JSON report, JUnit XML (one testcase per case) and a Markdown summary."""
import datetime
import json
import xml.etree.ElementTree as ET

from ..comparison import wilson_interval
from .execution import SuiteResult
from .suite import threshold_warning

ICONS = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error"}


def to_dict(result: SuiteResult, comparison: dict | None = None, gate: dict | None = None) -> dict:
    """The JSON report; POST /v1/runs takes it as it is. `comparison` and `gate` when a baseline was given."""
    suite = result.suite
    times = {}
    if result.started_at is not None:
        times = {"started_at": result.started_at.isoformat(),
                 "finished_at": (result.started_at + datetime.timedelta(seconds=result.seconds)).isoformat()}
    extra = {key: value for key, value in (("comparison", comparison), ("gate", gate)) if value is not None}
    return {
        "suite": suite.name, "file": suite.path, "passed": result.passed,
        "pass_rate": result.pass_rate, "pass_rate_interval": pass_rate_interval(result),
        "pass_rate_threshold": suite.pass_rate, "pass_rate_gate": suite.gate, "max_errors": suite.max_errors,
        "failed_required": result.failed_required, **times, **extra,
        "counts": {"cases": len(result.cases), "passed": result.count("passed"),
                   "failed": result.count("failed"), "errors": result.count("error")},
        "seconds": round(result.seconds, 3),
        "target": {"type": suite.target.kind, "url": suite.target.url},
        "service": suite.service_url, "canary": suite.canary,
        "cases": [case.to_dict() for case in result.cases],
        **({"attacks": attacks} if (attacks := attack_success(result)) else {}),
        **({"pass_hat": table} if (table := pass_hat(result)) else {}),
        "warnings": [warning] if (warning := threshold_warning(suite)) else [],
    }


def _rate(successes: int, attempts: int) -> dict:
    return {"attempts": attempts, "successes": successes, "rate": successes / attempts,
            "interval": wilson_interval(successes, attempts)}


def attack_success(result: SuiteResult) -> dict | None:
    """The attack success rate of the adversarial cases: attempts whose attack worked (a leak, no
    refusal, unsafe output) of the attempts evaluated, with a Wilson 95% interval; by case and by
    strategy. An errored attempt (and a case that errored before any attempt) is never counted as an
    attack that worked, nor as one that failed: `errors` counts them. None without adversarial
    attempts."""
    cases = [case for case in result.cases if case.kind == "adversarial"]
    attempts = [(case.id, attempt) for case in cases for attempt in case.attempts if not attempt.error]
    if not attempts:
        return None
    by_case, by_strategy = {}, {}
    for case_id, attempt in attempts:
        for key, table in ((case_id, by_case), (attempt.data.get("strategy", "none"), by_strategy)):
            counts = table.setdefault(key, [0, 0])
            counts[0] += not attempt.passed
            counts[1] += 1
    errors = sum(attempt.error for case in cases for attempt in case.attempts)
    return {**_rate(sum(not attempt.passed for _, attempt in attempts), len(attempts)),
            "errors": errors + sum(case.status == "error" and not case.attempts for case in cases),
            "by_case": {key: _rate(*counts) for key, counts in by_case.items()},
            "by_strategy": {key: _rate(*counts) for key, counts in by_strategy.items()}}


def pass_hat(result: SuiteResult) -> dict | None:
    """pass^N for each N a case repeats its prompts: of the prompts asked N times, how many passed
    all N times, of those the errors left decided, with a Wilson 95% interval. None when no case
    repeats."""
    counts = {}
    for case in result.cases:
        if case.pass_hat:
            total = counts.setdefault(case.repeats, [0, 0, 0])
            for index, value in enumerate(case.pass_hat):
                total[index] += value
    return {str(n): {"prompts": prompts, "decided": decided, "all_passed": every,
                     "rate": every / decided if decided else None, "interval": wilson_interval(every, decided)}
            for n, (every, decided, prompts) in sorted(counts.items())} or None


def pass_hat_text(table: dict) -> str:
    return "; ".join(f"pass^{n} {row['all_passed']}/{row['decided']} = {row['rate']:.1%} (prompts whose {n} repeats "
                     "all passed)" if row["decided"] else f"pass^{n}: no prompt decided" for n, row in table.items())


def attack_text(attacks: dict) -> str:
    low, high = attacks["interval"]
    text = (f"attack success rate {attacks['successes']}/{attacks['attempts']} = {attacks['rate']:.1%} "
            f"(95% CI {low:.1%}-{high:.1%})")
    if len(attacks["by_strategy"]) > 1:
        text += "; by strategy: " + ", ".join(f"{name} {rate['successes']}/{rate['attempts']}"
                                               for name, rate in attacks["by_strategy"].items())
    if attacks["errors"]:
        text += f"; {attacks['errors']} attempt(s) errored and are not counted"
    return text


def pass_rate_interval(result: SuiteResult) -> list[float] | None:
    """The Wilson 95% interval of the suite's pass rate (passed cases of the decided ones)."""
    return wilson_interval(result.count("passed"), result.decided)


def _interval_text(interval) -> str:
    return f"95% CI {interval[0]:.1%}-{interval[1]:.1%}" if interval else "no cases"


def write_json(result: SuiteResult, path: str, comparison: dict | None = None, gate: dict | None = None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(to_dict(result, comparison, gate), fh, indent=2, ensure_ascii=False)


def _failure_text(case) -> str:
    lines = [case.message]
    for number, attempt in enumerate(case.attempts, 1):
        if not attempt.passed:
            lines.append(f"attempt {number}{' (error)' if attempt.error else ''}: {attempt.reason}")
            if "prompt" in attempt.data:
                lines.append(f"  prompt: {attempt.data['prompt']}")
            if "reply" in attempt.data:
                lines.append(f"  reply: {attempt.data['reply']}")
    return "\n".join(lines)


def junit_tree(result: SuiteResult, comparison: dict | None = None) -> ET.ElementTree:
    counts = {"tests": str(len(result.cases)), "failures": str(result.count("failed")),
              "errors": str(result.count("error")), "time": f"{result.seconds:.3f}"}
    root = ET.Element("testsuites", {"name": "aiqa", **counts})
    suite = ET.SubElement(root, "testsuite", {
        "name": result.suite.name, **counts, "skipped": "0",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    properties = ET.SubElement(suite, "properties")
    values = [("pass_rate", result.pass_rate), ("pass_rate_interval", _interval_text(pass_rate_interval(result))),
              ("pass_rate_threshold", result.suite.pass_rate), ("target", result.suite.target.url)]
    if comparison is not None:
        values += [("baseline", comparison["baseline"].get("id")), ("verdict", comparison["verdict"]),
                   ("mcnemar_p_value", comparison["mcnemar"]["p_value"])]
        values += [(f"flips.{kind}", count) for kind, count in comparison["flips"].items()]
        values += [(f"flip.{case['id']}", case["flip"]) for case in comparison["cases"]]
    for name, value in values:
        ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    for case in result.cases:
        node = ET.SubElement(suite, "testcase", {
            "classname": f"{result.suite.name}.{case.kind}", "name": case.id, "time": f"{case.seconds:.3f}"})
        if case.status != "passed":
            tag = "failure" if case.status == "failed" else "error"
            ET.SubElement(node, tag, {"message": case.message[:500], "type": case.kind}).text = _failure_text(case)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: SuiteResult, path: str, comparison: dict | None = None) -> None:
    junit_tree(result, comparison).write(path, encoding="utf-8", xml_declaration=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def markdown(result: SuiteResult, comparison_lines: list[str] | None = None, gate: dict | None = None) -> str:
    suite = result.suite
    passed = result.passed if gate is None else gate["exit_code"] == 0
    verdict = "passed" if passed else "failed"
    lines = [f"## aiqa: {suite.name} {'✅' if passed else '❌'} {verdict}", ""]
    if comparison_lines:
        lines += ["**Against the baseline** (flips first):", "", "```", *comparison_lines, "```", ""]
    lines.append(
        f"Pass rate **{result.pass_rate:.1%}** ({_interval_text(pass_rate_interval(result))}; "
        f"{result.count('passed')}/{result.decided} decided cases"
        f"{f', {errors} error(s), at most {suite.max_errors} allowed' if (errors := result.count('error')) else ''}), "
        f"threshold {suite.pass_rate:.0%} · {result.seconds:.1f} s · target `{suite.target.kind}` {suite.target.url}")
    if suite.gate == "lower_bound":
        lines.append(f"The threshold is held to the pass rate's 95% lower bound: "
                     f"{result.gated_rate:.1%} against {suite.pass_rate:.0%}")
    if (attacks := attack_success(result)) is not None:
        text = attack_text(attacks)
        lines.append(text[0].upper() + text[1:])
    if (table := pass_hat(result)) is not None:
        text = pass_hat_text(table)
        lines.append(text[0].upper() + text[1:])
    if (warning := threshold_warning(suite)) is not None:
        lines.append(f"⚠️ {warning}")
    if gate is not None:
        lines.append(f"Gate: fail on {gate['fail_on']}; threshold {'met' if gate['threshold_passed'] else 'missed'}"
                     f"; {'regressed' if gate['regressed'] else 'no regression found'}")
    if result.failed_required:
        lines.append(f"Required cases that did not pass: {', '.join(result.failed_required)}")
    lines += ["", "| case | type | result | attempts passed | details |", "|---|---|---|---|---|"]
    for case in result.cases:
        attempts = f"{sum(a.passed for a in case.attempts)}/{len(case.attempts)}" if case.attempts else "—"
        lines.append(f"| {_cell(case.id)} | {case.kind} | {ICONS[case.status]} | {attempts} | {_cell(case.message)} |")
    return "\n".join(lines) + "\n"
