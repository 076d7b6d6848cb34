"""The Postman collection, run by newman against a live server: every request's pm.test assertions hold.

`make test` installs newman (pinned) under .cache/node with npm; npx runs that copy only (`--no`:
never a download at test time). The JUnit report lands in reports/newman-junit.xml for CI.
"""
import shutil
import subprocess

import pytest

from aiqa_fixtures import ROOT

pytestmark = pytest.mark.slow
NODE_PREFIX = ROOT / ".cache" / "node"
COLLECTION = ROOT / "postman" / "aiqa.postman_collection.json"
ENVIRONMENT = ROOT / "postman" / "aiqa.postman_environment.json"
REPORT = ROOT / "reports" / "newman-junit.xml"


def newman_command(base_url: str) -> list[str]:
    if shutil.which("npx") is None or not (NODE_PREFIX / "node_modules" / ".bin" / "newman").exists():
        pytest.fail("newman is not installed: `make test` installs it under .cache/node (needs node and npm)")
    return ["npx", "--prefix", str(NODE_PREFIX), "--no", "--", "newman", "run", str(COLLECTION),
            "-e", str(ENVIRONMENT), "--env-var", f"baseUrl={base_url}", "--env-var", "nerModel=tiny-ner", "--env-var", "imageModel=tiny-sd",
            "--reporters", "cli,junit", "--reporter-junit-export", str(REPORT),
            "--timeout-request", "120000", "--color", "off", "--disable-unicode"]


def test_the_collection_passes_against_a_live_server(live_server):
    REPORT.parent.mkdir(exist_ok=True)
    run = subprocess.run(newman_command(live_server.url), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    report = REPORT.read_text()
    assert 'failures="0"' in report and "<testcase" in report
