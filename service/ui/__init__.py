"""Pages for people: suites and their trend, a run against its baseline, two runs side by side, the
history of recorded evaluations, and a "try it" form per scoring endpoint. Served by the service
itself under /ui/, rendered on the server with Jinja (autoescaped: prompts and replies come from
the model under test and may hold HTML on purpose), readable without JavaScript and sending none:
the Content-Security-Policy forbids every script, and styles come from /ui/static only.

Keys: where the server has API keys, a page needs one too, entered once on /ui/key and kept in a
same-site, HTTP-only cookie scoped to /ui (never in a URL); a page asked for without a valid one
redirects to the key form (service/security.py checks it, as it checks the API's header).
"""
import os

import aiqa_client
from aiqa_client import html_report
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from jinja2 import ChoiceLoader, PackageLoader

from .. import operations
from ..errors import APIError, RunNotFound, ValidationFailed
from ..registry import current_registry
from ..store import current_store
from . import charts, forms

PREFIX = "/ui"
KEY_COOKIE = "aiqa_key"
# Pages that need no key: the form that asks for it, and the stylesheet it is drawn with.
OPEN_PAGES = ("/ui/key", "/ui/static/")
# The newest runs of each suite (and evaluations of each name and metric) a chart shows.
TREND_POINTS = 200
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
OUTCOMES = ("failed", "error", "passed")

# The stylesheet and the run template are the client's: its HTML report shows a run as this run page does.
bp = Blueprint("ui", __name__, url_prefix=PREFIX, template_folder="templates",
               static_folder=os.path.join(os.path.dirname(aiqa_client.__file__), "static"))


def is_page(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def needs_no_key(path: str) -> bool:
    return any(path == page or (page.endswith("/") and path.startswith(page)) for page in OPEN_PAGES)


@bp.after_request
def _page_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(APIError)
def _error_page(error: APIError):
    """A page, not problem+json: an unknown run is a 404 page, a store that is down a 503 page."""
    return render_template("ui/error.html", error=error), error.status


# -- keys ------------------------------------------------------------------------------------------
def _next_page(value: str | None) -> str:
    """Where to go after the key form: a page of this service only (no open redirect)."""
    if value and is_page(value) and not value.startswith("//") and "\\" not in value:
        return value
    return url_for("ui.suites")


@bp.route("/key", methods=["GET", "POST"])
def key():
    """Ask for the API key once; keep it in an HTTP-only, same-site cookie."""
    guard = current_app.extensions["aiqa.security"]
    following = _next_page(request.values.get("next"))
    if request.method == "GET":
        return render_template("ui/key.html", needed=bool(guard.keys), following=following, wrong=False)
    if request.form.get("action") == "forget":
        response = redirect(url_for("ui.key"))
        response.delete_cookie(KEY_COOKIE, path=PREFIX)
        return response
    presented = request.form.get("key", "").strip()
    if guard.keys and guard.key_id(presented) is None:
        return render_template("ui/key.html", needed=True, following=following, wrong=True), 401
    response = redirect(following)
    response.set_cookie(KEY_COOKIE, presented, path=PREFIX, httponly=True, samesite="Strict",
                        secure=request.is_secure)
    return response


# -- suites and runs -------------------------------------------------------------------------------
@bp.get("/")
def suites():
    """Every suite and target: the newest pass rate, its interval, the trend over the runs."""
    groups = current_store().run_history(TREND_POINTS)
    for group in groups:
        group["newest"] = group["runs"][-1]
        group["chart"] = charts.time_series([{
            "value": run["pass_rate"], "when": run["started_at"], "interval": run["pass_rate_interval"],
            "title": f"{run['id']}: {forms.percent(run['pass_rate'])} on {run['started_at']}",
            "href": url_for("ui.run", run_id=run["id"])} for run in group["runs"]], percent=True)
    groups.sort(key=lambda group: group["newest"]["started_at"], reverse=True)
    return render_template("ui/suites.html", groups=groups)


def _run_and_comparison(run_id: str) -> tuple[dict, dict | None]:
    """The run, and its comparison with the newest earlier run of its suite and target (None when
    it is the first)."""
    store = current_store()
    try:
        current, baseline = store.run_and_baseline(run_id, "latest", {})
    except RunNotFound as exc:
        if "baseline" not in (exc.errors or {}):
            raise
        return store.get_run(run_id), None
    from aiqa_client.comparison import compare_runs
    return current, compare_runs(current, baseline)


@bp.get("/runs/<run_id>")
def run(run_id):
    """One run: verdict, flips against its baseline, every case (failures and errors first), filters."""
    current, comparison = _run_and_comparison(run_id)
    outcome = request.args.get("outcome") or ""
    kind = request.args.get("type") or ""
    if outcome and outcome not in OUTCOMES:
        raise ValidationFailed(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}",
                               errors={"outcome": [f"One of {', '.join(OUTCOMES)}."]})
    cases = html_report.failures_first(current["cases"])
    shown = [case for case in cases
             if (not outcome or case["status"] == outcome) and (not kind or case.get("type") == kind)]
    types = sorted({str(case.get("type")) for case in cases})
    return render_template("ui/run.html", run=current, comparison=comparison, cases=shown, all_cases=len(cases),
                           types=types, outcome=outcome, kind=kind, anchors=html_report.anchors(cases),
                           outcomes=OUTCOMES, verdict=html_report.verdict(current),
                           run_page=lambda other: url_for("ui.run", run_id=other))


@bp.get("/compare")
def compare():
    """Two runs of one suite and target side by side: `current` and `baseline` run ids."""
    current_id, baseline_id = request.args.get("current", ""), request.args.get("baseline", "")
    if not current_id and not baseline_id:
        return render_template("ui/compare.html", comparison=None, current_id="", baseline_id="")
    for name, value in (("current", current_id), ("baseline", baseline_id)):
        if not value:
            raise ValidationFailed(f"give both runs: {name} is missing", errors={name: ["A run id."]})
    store = current_store()
    current, baseline = store.run_and_baseline(current_id, baseline_id, {})
    from aiqa_client.comparison import compare_runs
    comparison = compare_runs(current, baseline, unchanged=True)
    before = {case["id"]: case for case in baseline["cases"]}
    now = {case["id"]: case for case in current["cases"]}
    rows = [{"flip": case, "baseline": before.get(case["id"]), "current": now.get(case["id"])}
            for case in comparison["cases"]]
    return render_template("ui/compare.html", comparison=comparison, rows=rows, current=current, baseline=baseline,
                           current_id=current_id, baseline_id=baseline_id, reply=forms.first_reply)


# -- evaluations -----------------------------------------------------------------------------------
@bp.get("/evaluations")
def evaluations():
    """The recorded history of each name and metric: every numeric result as a chart with intervals."""
    groups = current_store().evaluation_history(TREND_POINTS)
    for group in groups:
        group["series"] = forms.evaluation_series(group["evaluations"])
        for series in group["series"]:
            series["chart"] = charts.time_series(series["points"])
    return render_template("ui/evaluations.html", groups=groups)


# -- try it ----------------------------------------------------------------------------------------
@bp.route("/try/", defaults={"name": None})
@bp.route("/try/<name>", methods=["GET", "POST"])
def try_it(name):
    """A form per scoring endpoint: what the API would answer, run by the same code."""
    if name is None:
        return render_template("ui/try_index.html", endpoints=forms.ENDPOINTS)
    form = forms.ENDPOINTS.get(name)
    if form is None:
        raise forms.unknown_endpoint(name)
    answer, problem, values = None, None, form.defaults()
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in form.field_names}
        try:
            body = form.body(values)
            answer = getattr(operations, form.operation)(current_registry(), forms.load(form, body))
        except APIError as exc:
            problem = exc
    models = [slot.describe() for slot in current_registry().slots.values()]
    return render_template("ui/try.html", form=form, values=values, answer=answer, problem=problem,
                           models=[m["name"] for m in models if form.capability in m.get("capabilities", [])],
                           pretty=forms.pretty), (problem.status if problem else 200)


def init_app(app) -> None:
    app.register_blueprint(bp)
    # The app's and blueprints' templates first, then the client's (aiqa_client/run.html).
    environment = app.jinja_env
    environment.loader = ChoiceLoader([environment.loader, PackageLoader("aiqa_client", "templates")])


__all__ = ["bp", "init_app", "is_page", "needs_no_key", "KEY_COOKIE"]
