"""`aiqa run --record --baseline ... --fail-on ...`: record the run, compare it with a baseline, decide.

The comparison itself is aiqa_client.comparison, the same code the service's
GET /v1/runs/{id}/compare runs, so a baseline given as a report.json (no service at all) and one
read from the service give the same answer for the same two runs.

Baselines:
- a path to an earlier report.json: compared here, offline;
- `latest`: the newest run of the same suite and target recorded before this one (restricted by
  --baseline-label key=value), read from the suite's service;
- a run id recorded on the service.
`latest` with no earlier run is not an error: the first run of a branch has nothing to be compared
with, so the regression gate has nothing to fail on and says so.
"""
import json
import os
from dataclasses import dataclass, field

from ..client import Client
from ..comparison import REGRESSED, TOO_FEW, compare_runs, target_key
from ..errors import AiqaError, ConnectionFailed, RunNotFound

FAIL_ON = ("threshold", "regression", "both")
PASSED, FAILED, BROKEN = 0, 1, 2


class GateError(RuntimeError):
    """The baseline or the service it needs cannot be used (exit 2)."""


def parse_labels(values: list[str] | None, option: str) -> dict:
    """["branch=main", ...] -> {"branch": "main"}; a value without '=' is refused."""
    labels = {}
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise GateError(f"{option} {value!r}: give key=value, e.g. branch=main")
        labels[key] = text
    return labels


def ci_labels(env=os.environ) -> dict:
    """What a GitHub Actions run says about itself: commit, branch and the run's URL."""
    labels = {}
    if env.get("GITHUB_SHA"):
        labels["git_sha"] = env["GITHUB_SHA"]
    branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME")
    if branch:
        labels["branch"] = branch
    if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
        labels["ci_run_url"] = f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return labels


@dataclass
class Gate:
    """What decides the exit code, and why."""
    fail_on: str
    threshold_passed: bool
    comparison: dict | None = None
    baseline_note: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return self.comparison is not None and self.comparison["verdict"] == REGRESSED

    @property
    def exit_code(self) -> int:
        failed = ((self.fail_on in ("threshold", "both") and not self.threshold_passed)
                  or (self.fail_on in ("regression", "both") and self.regressed))
        return FAILED if failed else PASSED

    def to_dict(self) -> dict:
        return {"fail_on": self.fail_on, "threshold_passed": self.threshold_passed, "regressed": self.regressed,
                "baseline_note": self.baseline_note, "exit_code": self.exit_code}


class Recorder:
    """The suite's service, for recording and reading runs."""

    def __init__(self, service_url: str | None, api_key: str | None):
        self.client = Client(service_url, api_key=api_key, timeout=60) if service_url else None

    def require(self, what: str) -> Client:
        if self.client is None:
            raise GateError(f"{what} needs the aiqa service: set service.url in the suite")
        return self.client

    def record(self, report: dict, labels: dict, run_id: str | None) -> dict:
        client = self.require("--record")
        try:
            run = client.runs.create(report, id=run_id, labels=labels or None)
        except ConnectionFailed as exc:
            raise GateError(f"cannot record the run: {exc}") from exc
        except AiqaError as exc:
            raise GateError(f"the service refused the run: {exc}") from exc
        return {"id": run.id, "created": run.created, "url": f"{client.base_url}/v1/runs/{run.id}"}

    def baseline_run(self, which: str, report: dict, labels: dict, before_id: str | None) -> dict | None:
        """The baseline run with its cases, from the service; None for `latest` when there is none."""
        client = self.require(f"--baseline {which}")
        try:
            if which != "latest":
                return _as_dict(client.runs.get(which))
            for run in client.runs.list(suite=report["suite"], target=target_key(report["target"]), label=labels,
                                        page_size=2):
                if run.id != before_id:  # the run just recorded is the newest; its predecessor is wanted
                    return _as_dict(client.runs.get(run.id))
            return None
        except RunNotFound as exc:
            raise GateError(f"baseline run {which!r} is not on the service: {exc.detail}") from exc
        except ConnectionFailed as exc:
            raise GateError(f"cannot read the baseline: {exc}") from exc
        except AiqaError as exc:
            raise GateError(f"the service could not give the baseline: {exc}") from exc

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _as_dict(run) -> dict:
    return {"id": run.id, "suite": run.suite, "started_at": run.started_at, "cases": run.cases or []}


def load_report(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            report = json.load(fh)
    except (OSError, ValueError) as exc:
        raise GateError(f"baseline report {path}: {exc}") from exc
    if not isinstance(report, dict) or not isinstance(report.get("cases"), list):
        raise GateError(f"baseline report {path}: not an aiqa JSON report (no cases)")
    return report


def compare(report: dict, baseline: str, recorder: Recorder, labels: dict, recorded_id: str | None,
            alpha: float) -> tuple[dict | None, str | None]:
    """(the comparison, None) or (None, why there is nothing to compare with)."""
    if baseline.endswith(".json") or os.path.isfile(baseline):
        earlier = load_report(baseline)
        if earlier.get("suite") != report["suite"]:
            raise GateError(f"baseline report {baseline} is of suite {earlier.get('suite')!r}, "
                            f"not {report['suite']!r}")
        earlier = {**earlier, "id": earlier.get("id") or os.path.basename(baseline)}
    else:
        earlier = recorder.baseline_run(baseline, report, labels, recorded_id)
        if earlier is None:
            wanted = "".join(f", {key}={value}" for key, value in labels.items())
            return None, f"no earlier run of suite {report['suite']!r} on {target_key(report['target'])}{wanted}"
    return compare_runs({**report, "id": recorded_id or "this run"}, earlier, alpha=alpha), None


def describe(comparison: dict | None, note: str | None) -> list[str]:
    """The comparison as the lines printed first: the verdict, the counts, the cases that flipped."""
    if comparison is None:
        return [f"baseline: none ({note}); the regression gate has nothing to compare with"]
    flips, mcnemar = comparison["flips"], comparison["mcnemar"]
    baseline = comparison["baseline"]
    lines = [f"compared with {baseline.get('id', 'the baseline')}: {comparison['verdict']} "
             f"(McNemar exact p = {mcnemar['p_value']:.3g}, {comparison['paired_cases']} paired cases, "
             f"alpha {comparison['alpha']})"]
    if comparison["verdict"] == TOO_FEW:
        lines.append(f"  too few paired cases to tell: {comparison['needed_paired_cases']} would be needed")
    counted = ", ".join(f"{count} {kind}" for kind, count in flips.items() if count)
    lines.append(f"  flips: {counted}")
    for case in comparison["cases"]:
        lines.append(f"  {case['flip']:>13}  {case['id']} ({case['baseline']} -> {case['current']})")
    for key, number in comparison["numbers"].items():
        low, high = number["interval"]
        lines.append(f"  {key}: mean change {number['mean_difference']:+.4g} (95% CI {low:+.4g} to {high:+.4g})"
                     + (" *" if number["changed"] else ""))
    return lines
