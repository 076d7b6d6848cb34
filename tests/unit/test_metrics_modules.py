"""The metric modules keep evaluate's format, load by local path and work with the network unreachable."""
import ast
import doctest
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from evaluate.loading import get_imports

from service.scoring import loader
from service.scoring.specs import SPECS

ROOT = Path(__file__).resolve().parents[2]
NAMES = loader.names()


def test_every_metric_folder_is_in_the_catalog():
    assert set(NAMES) == set(SPECS)


@pytest.mark.parametrize("name", NAMES)
def test_a_module_is_an_evaluate_metric_with_info_and_compute(name):
    import evaluate
    module = loader.module(name)
    assert isinstance(module, evaluate.Metric)
    assert module.info.description.strip() and module.info.inputs_description.strip()
    assert "_compute" in type(module).__dict__ and "_info" in type(module).__dict__


@pytest.mark.parametrize("name", NAMES)
def test_every_import_is_on_its_own_line_so_evaluate_sees_it(name):
    """evaluate's loader reads import lines with a regex to find a module's dependencies."""
    path = loader.METRICS_DIR / name / f"{name}.py"
    tree = ast.parse(path.read_text())
    statements = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(len(node.names) == 1 for node in statements if isinstance(node, ast.Import))
    roots = {(node.names[0].name if isinstance(node, ast.Import) else node.module).split(".")[0]
             for node in statements}
    assert roots == {library for kind, library, _, _ in get_imports(str(path)) if kind == "library"}


@pytest.mark.parametrize("name", NAMES)
def test_the_doctest_examples_hold(name):
    module = sys.modules[type(loader.module(name)).__module__]
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [test for test in finder.find(module) if test.examples]
    assert tests, "every metric documents an example"
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_is_an_argument_of_compute(name):
    spec = SPECS[name]
    arguments = set(inspect.signature(loader.module(name)._compute).parameters)
    assert set(spec.params.fields) - {"model"} <= arguments
    assert ("model" in arguments) == bool(spec.capability)


OFFLINE_SCRIPT = textwrap.dedent("""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable in this test")

    socket.socket.connect = refuse
    socket.create_connection = refuse

    from service import create_app
    app = create_app({"LOAD_MODELS": False})
    client = app.test_client()
    assert client.get("/v1/metrics").status_code == 200
    cases = {
        "accuracy": ([0, 1], [0, 0]), "precision": ([0, 1], [0, 1]), "recall": ([0, 1], [0, 1]),
        "f1": ([0, 1], [0, 1]), "confusion_matrix": ([0, 1], [0, 1]), "matthews_corrcoef": ([0, 1], [0, 1]),
        "exact_match": (["a"], ["a"]), "bleu": (["a cat"], ["a cat"]), "chrf": (["a cat"], ["a cat"]),
        "rouge": (["a cat"], ["a cat"]), "seqeval": ([["B-PER"]], [["B-PER"]]),
    }
    for name, (predictions, references) in cases.items():
        response = client.post(f"/v1/metrics/{name}", json={"predictions": predictions, "references": references})
        assert response.status_code == 200, (name, response.get_json())
    print("offline ok")
""")


def test_metrics_load_and_compute_with_the_network_unreachable(tmp_path):
    """A fresh process, empty caches, every socket connection refused: nothing may reach the hub."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HF_MODULES_CACHE": str(tmp_path / "modules"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "offline ok" in done.stdout
