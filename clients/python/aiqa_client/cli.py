"""The `aiqa` command.

    aiqa run SUITE.yaml [--dry-run] [--report-dir DIR] [--junit PATH] [--json PATH] [--markdown PATH] [--html PATH]
                        [--record [--label KEY=VALUE ...] [--run-id ID]]
                        [--baseline latest|RUN_ID|REPORT.json [--baseline-label KEY=VALUE ...] [--alpha A]]
                        [--fail-on threshold|regression|both]

Exit status: 0 every gate passed; 1 a gate failed (the thresholds were missed, or the run regressed
against its baseline, as --fail-on says); 2 the suite, the target, the service or the baseline
could not be used, so nothing was decided. The message says which.
"""
import argparse
import os
import sys

from .runner import SuiteError, estimate, load_suite, run_suite
from .runner.execution import Unreachable
from .runner.progress import Progress
from .runner.gate import FAIL_ON, Gate, GateError, Recorder, ci_labels, compare, describe, parse_labels
from .html_report import write_html
from .runner.report import attack_text, markdown, to_dict, write_json, write_junit
from .runner.cache import DEFAULT_TTL_S, ReplyCache, default_dir
from .runner.suite import threshold_warning

PASSED, FAILED, BROKEN = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aiqa", description="Test a chatbot with a suite of cases.")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a suite file")
    run.add_argument("suite", help="the suite YAML file")
    run.add_argument("--dry-run", action="store_true", help="print the calls and time estimate, call nothing")
    run.add_argument("--report-dir", default="reports/aiqa",
                     help="where report.json, junit.xml, summary.md and report.html go (default: reports/aiqa)")
    run.add_argument("--json", help="JSON report path (default: REPORT_DIR/report.json)")
    run.add_argument("--junit", help="JUnit XML path (default: REPORT_DIR/junit.xml)")
    run.add_argument("--markdown", help="Markdown summary path (default: REPORT_DIR/summary.md)")
    run.add_argument("--html", help="a self-contained HTML report, every case with its prompt and reply, failures "
                                    "first; opens with no network (default: REPORT_DIR/report.html)")
    run.add_argument("--canary", help="the canary secret (default: the suite's, else a new random one)")
    run.add_argument("--quiet", action="store_true", help="no live progress")
    cache = run.add_argument_group("a cache of the target's replies (README: aiqa run)")
    cache.add_argument("--cache", action="store_true",
                       help="answer a request the target answered before (same target, message, system prompt "
                            "and repeat index) from the cache, and keep new replies there; off by default")
    cache.add_argument("--no-cache", action="store_true", help="call the target for every request (the default)")
    cache.add_argument("--cache-dir", help="where replies are kept (implies --cache; default ~/.cache/aiqa/replies)")
    cache.add_argument("--cache-ttl", type=float, default=DEFAULT_TTL_S, metavar="SECONDS",
                       help="replies older than this are asked again (default 7 days)")
    record = run.add_argument_group("recording and comparing (README: aiqa run)")
    record.add_argument("--record", action="store_true",
                        help="record the run on the suite's service (POST /v1/runs), with GitHub's sha, branch "
                             "and run URL as labels when it runs in GitHub Actions")
    record.add_argument("--label", action="append", metavar="KEY=VALUE", help="a label of the recorded run (repeat)")
    record.add_argument("--run-id", help="the recorded run's id (default: the service makes one)")
    record.add_argument("--baseline", metavar="latest|RUN_ID|REPORT.json",
                        help="compare with the newest earlier run of the suite and target, a recorded run, "
                             "or an earlier report.json (offline)")
    record.add_argument("--baseline-label", action="append", metavar="KEY=VALUE",
                        help="restrict `latest` to runs with this label, e.g. branch=main (repeat)")
    record.add_argument("--alpha", type=float, default=0.05, help="the comparison's significance level (0.05)")
    record.add_argument("--fail-on", choices=FAIL_ON,
                        help="what fails the run (exit 1): missed thresholds, a significant regression against "
                             "the baseline, or either (default: both with --baseline, else threshold)")
    return root


def describe_estimate(suite, plan: dict) -> str:
    minutes = plan["estimated_seconds"] / 60
    return (f"suite {suite.name!r}: {len(suite.cases)} cases, {plan['target_calls']} calls to the target "
            f"({suite.target.kind} {suite.target.url}), up to {plan['service_calls']} calls to the scoring "
            f"service; estimated {plan['estimated_seconds']:.0f} s (~{minutes:.1f} min) at "
            f"{plan['seconds_per_target_call']:.2f} s per target call (set target.seconds_per_call to refine)")


def write_reports(result, args, gate: Gate | None = None, comparison_lines=None,
                  run_id: str | None = None) -> list[str]:
    os.makedirs(args.report_dir, exist_ok=True)
    paths = {"json": args.json or os.path.join(args.report_dir, "report.json"),
             "junit": args.junit or os.path.join(args.report_dir, "junit.xml"),
             "markdown": args.markdown or os.path.join(args.report_dir, "summary.md"),
             "html": args.html or os.path.join(args.report_dir, "report.html")}
    comparison = gate.comparison if gate else None
    write_json(result, paths["json"], comparison, gate.to_dict() if gate else None)
    page = {**to_dict(result, comparison), **({"id": run_id} if run_id else {})}
    write_html(page, paths["html"], comparison, gate.baseline_note if gate else None)
    write_junit(result, paths["junit"], comparison)
    summary = markdown(result, comparison_lines, gate.to_dict() if gate else None)
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
    warning = threshold_warning(suite)
    if warning:
        print(f"warning: {warning}", flush=True)
    if args.dry_run:
        for case in suite.cases:
            calls = plan["cases"][case.id]
            print(f"  {case.kind:12} {case.id}: {calls['target_calls']} target, {calls['service_calls']} service")
        return PASSED
    try:
        labels, baseline_labels = parse_labels(args.label, "--label"), parse_labels(args.baseline_label,
                                                                                   "--baseline-label")
    except GateError as exc:
        print(f"aiqa: {exc}", file=sys.stderr)
        return BROKEN
    progress = Progress(plan["target_calls"], plan["seconds_per_target_call"], len(suite.cases), quiet=args.quiet)
    cache = None
    if args.cache_ttl < 0:
        print("aiqa: --cache-ttl must be 0 or more seconds", file=sys.stderr)
        return BROKEN
    if (args.cache or args.cache_dir) and not args.no_cache:
        cache = ReplyCache(args.cache_dir or default_dir(), args.cache_ttl, suite.target)
    try:
        result = run_suite(suite, progress, cache)
    except Unreachable as exc:
        print(f"aiqa: {exc}", file=sys.stderr)
        return BROKEN
    gate = Gate(args.fail_on or ("both" if args.baseline else "threshold"), result.passed)
    recorder = Recorder(suite.service_url, suite.service_api_key)
    try:
        report, recorded = to_dict(result), None
        if args.record:
            recorded = recorder.record(report, {**ci_labels(), **labels}, args.run_id)
            print(f"recorded run {recorded['id']}: {recorded['url']}" + ("" if recorded["created"] else " (already)"))
        if args.baseline:
            gate.comparison, gate.baseline_note = compare(report, args.baseline, recorder, baseline_labels,
                                                          recorded and recorded["id"], args.alpha)
    except GateError as exc:
        print(f"aiqa: {exc}", file=sys.stderr)
        write_reports(result, args)
        return BROKEN
    finally:
        recorder.close()
    lines = describe(gate.comparison, gate.baseline_note) if args.baseline else None
    for line in lines or []:
        print(line)
    for path in write_reports(result, args, gate if args.baseline or args.fail_on else None, lines,
                              recorded and recorded["id"]):
        print(f"wrote {path}")
    interval = report["pass_rate_interval"]
    if cache is not None:
        print(f"target replies: {cache.hits} from the cache, {cache.misses} called ({cache.directory})")
    if "attacks" in report:
        print(attack_text(report["attacks"]))
    regression = ""
    if args.baseline:
        regression = "; regressed against the baseline" if gate.regressed else "; no significant regression"
    errors = result.count("error")
    rate = (f"{result.pass_rate:.1%}, 95% CI {interval[0]:.1%}-{interval[1]:.1%}, threshold {suite.pass_rate:.0%}"
            f"{' on the lower bound' if suite.gate == 'lower_bound' else ''}") if interval else "none decided"
    print(f"{'PASSED' if gate.exit_code == PASSED else 'FAILED'}: {result.count('passed')}/{result.decided} "
          f"decided cases passed ({rate})"
          + (f"; {errors} case(s) errored, {suite.max_errors} allowed" if errors else "")
          + (f"; required cases failed: {', '.join(result.failed_required)}" if result.failed_required else "")
          + f"{regression} (fail on {gate.fail_on})")
    return gate.exit_code


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
