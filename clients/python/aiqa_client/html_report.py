"""A run as one self-contained HTML file (`aiqa run --html`): the same content as the service's run
page (the template is shared, aiqa_client/templates/aiqa_client/run.html), its styles inline, no
script and nothing fetched, so it opens from a CI artifact with the network off.

Everything shown is escaped (autoescape): replies come from the model under test and may hold HTML
or script on purpose, and the file's Content-Security-Policy lets no script run in any case.
"""
import datetime
import importlib.resources

ORDER = {"failed": 0, "error": 1, "passed": 2}


def environment():
    """The Jinja environment of the shared templates (jinja2 is imported only to render)."""
    from jinja2 import Environment, PackageLoader
    return Environment(loader=PackageLoader("aiqa_client", "templates"), autoescape=True)


def stylesheet() -> str:
    return importlib.resources.files("aiqa_client").joinpath("static", "aiqa.css").read_text(encoding="utf-8")


def failures_first(cases: list[dict]) -> list[dict]:
    """Failed, then errors, then passed; the run's own order within each."""
    return sorted(cases, key=lambda case: ORDER.get(case.get("status"), 3))


def anchors(cases: list[dict]) -> dict:
    """case id -> the id of its element (ids may hold any character; element ids should not)."""
    return {case["id"]: f"case-{position}" for position, case in enumerate(cases)}


def verdict(run: dict) -> dict:
    """The run's own verdict as its runner reported it (passed, threshold), else from its counts.
    `run`: a report as the runner writes it, or a stored run (whose report holds those fields)."""
    fields = {**(run.get("report") or {}), **{key: run[key] for key in ("passed", "pass_rate_threshold") if key in run}}
    threshold = fields.get("pass_rate_threshold")
    if isinstance(fields.get("passed"), bool):
        passed = fields["passed"]
    elif threshold is not None and run.get("pass_rate") is not None:
        passed = run["pass_rate"] >= threshold
    else:
        passed = run["counts"]["failed"] == 0 and run["counts"]["errors"] == 0
    return {"passed": passed, "threshold": threshold}


def render(report: dict, comparison: dict | None = None, baseline_note: str | None = None) -> str:
    """The report page of `report` (the runner's JSON report, or a stored run with its cases)."""
    cases = failures_first(report["cases"])
    written = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    return environment().get_template("aiqa_client/report.html").render(
        run=report, verdict=verdict(report), comparison=comparison, baseline_note=baseline_note, cases=cases,
        anchors=anchors(cases), css=stylesheet(), written=written)


def write_html(report: dict, path: str, comparison: dict | None = None, baseline_note: str | None = None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render(report, comparison, baseline_note))
