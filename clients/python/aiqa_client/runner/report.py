"""The run's results as a JSON report, JUnit XML (one testcase per case) and a Markdown summary."""
import datetime
import json
import xml.etree.ElementTree as ET

from .engine import SuiteResult

ICONS = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error"}


def to_dict(result: SuiteResult) -> dict:
    suite = result.suite
    return {
        "suite": suite.name, "file": suite.path, "passed": result.passed,
        "pass_rate": result.pass_rate, "pass_rate_threshold": suite.pass_rate,
        "failed_required": result.failed_required,
        "counts": {"cases": len(result.cases), "passed": result.count("passed"),
                   "failed": result.count("failed"), "errors": result.count("error")},
        "seconds": round(result.seconds, 3),
        "target": {"type": suite.target.kind, "url": suite.target.url},
        "service": suite.service_url, "canary": suite.canary,
        "cases": [case.to_dict() for case in result.cases],
    }


def write_json(result: SuiteResult, path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(to_dict(result), fh, indent=2, ensure_ascii=False)


def _failure_text(case) -> str:
    lines = [case.message]
    for number, attempt in enumerate(case.attempts, 1):
        if not attempt.passed:
            lines.append(f"attempt {number}: {attempt.reason}")
            if "prompt" in attempt.data:
                lines.append(f"  prompt: {attempt.data['prompt']}")
            if "reply" in attempt.data:
                lines.append(f"  reply: {attempt.data['reply']}")
    return "\n".join(lines)


def junit_tree(result: SuiteResult) -> ET.ElementTree:
    counts = {"tests": str(len(result.cases)), "failures": str(result.count("failed")),
              "errors": str(result.count("error")), "time": f"{result.seconds:.3f}"}
    root = ET.Element("testsuites", {"name": "aiqa", **counts})
    suite = ET.SubElement(root, "testsuite", {
        "name": result.suite.name, **counts, "skipped": "0",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("pass_rate", result.pass_rate), ("pass_rate_threshold", result.suite.pass_rate),
                        ("target", result.suite.target.url)):
        ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    for case in result.cases:
        node = ET.SubElement(suite, "testcase", {
            "classname": f"{result.suite.name}.{case.kind}", "name": case.id, "time": f"{case.seconds:.3f}"})
        if case.status != "passed":
            tag = "failure" if case.status == "failed" else "error"
            ET.SubElement(node, tag, {"message": case.message[:500], "type": case.kind}).text = _failure_text(case)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: SuiteResult, path: str) -> None:
    junit_tree(result).write(path, encoding="utf-8", xml_declaration=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def markdown(result: SuiteResult) -> str:
    suite = result.suite
    verdict = "passed" if result.passed else "failed"
    lines = [
        f"## aiqa: {suite.name} {'✅' if result.passed else '❌'} {verdict}", "",
        f"Pass rate **{result.pass_rate:.1%}** ({result.count('passed')}/{len(result.cases)} cases), "
        f"threshold {suite.pass_rate:.0%} · {result.seconds:.1f} s · target `{suite.target.kind}` {suite.target.url}",
    ]
    if result.failed_required:
        lines.append(f"Required cases that did not pass: {', '.join(result.failed_required)}")
    lines += ["", "| case | type | result | attempts passed | details |", "|---|---|---|---|---|"]
    for case in result.cases:
        attempts = f"{sum(a.passed for a in case.attempts)}/{len(case.attempts)}" if case.attempts else "—"
        lines.append(f"| {_cell(case.id)} | {case.kind} | {ICONS[case.status]} | {attempts} | {_cell(case.message)} |")
    return "\n".join(lines) + "\n"
