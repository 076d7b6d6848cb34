"""The `aiqa` command.

    aiqa run SUITE.yaml [--dry-run] [--report-dir DIR] [--junit PATH] [--json PATH] [--markdown PATH]

Exit status: 0 the suite passed its thresholds; 1 it missed them; 2 the suite file is broken or the
target (or scoring service) cannot be reached — the message says which.
"""
import argparse
import os
import sys

from .runner import SuiteError, estimate, load_suite, run_suite
from .runner.engine import Unreachable
from .runner.progress import Progress
from .runner.report import markdown, write_json, write_junit

PASSED, FAILED, BROKEN = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aiqa", description="Test a chatbot with a suite of cases.")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a suite file")
    run.add_argument("suite", help="the suite YAML file")
    run.add_argument("--dry-run", action="store_true", help="print the calls and time estimate, call nothing")
    run.add_argument("--report-dir", default="reports/aiqa",
                     help="where report.json, junit.xml and summary.md go (default: reports/aiqa)")
    run.add_argument("--json", help="JSON report path (default: REPORT_DIR/report.json)")
    run.add_argument("--junit", help="JUnit XML path (default: REPORT_DIR/junit.xml)")
    run.add_argument("--markdown", help="Markdown summary path (default: REPORT_DIR/summary.md)")
    run.add_argument("--canary", help="the canary secret (default: the suite's, else a new random one)")
    run.add_argument("--quiet", action="store_true", help="no live progress")
    return root


def describe_estimate(suite, plan: dict) -> str:
    minutes = plan["estimated_seconds"] / 60
    return (f"suite {suite.name!r}: {len(suite.cases)} cases, {plan['target_calls']} calls to the target "
            f"({suite.target.kind} {suite.target.url}), up to {plan['service_calls']} calls to the scoring "
            f"service; estimated {plan['estimated_seconds']:.0f} s (~{minutes:.1f} min) at "
            f"{plan['seconds_per_target_call']:.2f} s per target call (set target.seconds_per_call to refine)")


def write_reports(result, args) -> list[str]:
    os.makedirs(args.report_dir, exist_ok=True)
    paths = {"json": args.json or os.path.join(args.report_dir, "report.json"),
             "junit": args.junit or os.path.join(args.report_dir, "junit.xml"),
             "markdown": args.markdown or os.path.join(args.report_dir, "summary.md")}
    write_json(result, paths["json"])
    write_junit(result, paths["junit"])
    summary = markdown(result)
    with open(paths["markdown"], "w", encoding="utf-8") as fh:
        fh.write(summary)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(summary)
    return list(paths.values())


def run(args) -> int:
    try:
        suite = load_suite(args.suite, canary=args.canary)
    except SuiteError as exc:
        print(f"aiqa: broken suite file {args.suite}: {exc}", file=sys.stderr)
        return BROKEN
    plan = estimate(suite)
    print(describe_estimate(suite, plan), flush=True)
    if args.dry_run:
        for case in suite.cases:
            calls = plan["cases"][case.id]
            print(f"  {case.kind:12} {case.id}: {calls['target_calls']} target, {calls['service_calls']} service")
        return PASSED
    progress = Progress(plan["target_calls"], plan["seconds_per_target_call"], len(suite.cases), quiet=args.quiet)
    try:
        result = run_suite(suite, progress)
    except Unreachable as exc:
        print(f"aiqa: {exc}", file=sys.stderr)
        return BROKEN
    for path in write_reports(result, args):
        print(f"wrote {path}")
    verdict = "PASSED" if result.passed else "FAILED"
    print(f"{verdict}: {result.count('passed')}/{len(result.cases)} cases passed "
          f"({result.pass_rate:.1%}, threshold {suite.pass_rate:.0%})"
          + (f"; required cases failed: {', '.join(result.failed_required)}" if result.failed_required else ""))
    return PASSED if result.passed else FAILED


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
