"""What gunicorn's master imports before it forks the workers (service.share_imports).

Every page the master holds at the fork is resident in every worker, so the master imports what
every worker needs and nothing more: not torch (no CUDA before a fork), not nltk (only rouge and
google_bleu import it, on first use), not alembic (only a process that migrates imports it).
"""
import json
import os
import subprocess
import sys

import pytest

SHARE = """
import json, sys
sys.modules["transformers"] = None  # as gunicorn.conf.py's on_starting does
from service import share_imports
share_imports()
roots = {name.split(".")[0] for name in sys.modules}
before = sorted(roots & {"torch", "nltk", "rouge_score", "alembic", "evaluate", "sklearn", "sqlalchemy"})
from service.scoring import loader
for metric in sys.argv[1:]:
    module = loader.module(metric)
    module._compute(predictions=["a cat sat"], references=["the cat sat"])
after = sorted({name.split(".")[0] for name in sys.modules} & {"nltk", "rouge_score"})
print(json.dumps([before, after]))
"""


def shared(*metrics: str) -> list:
    result = subprocess.run([sys.executable, "-c", SHARE, *metrics], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_master_shares_the_metric_libraries_but_not_torch_nltk_or_alembic():
    before, after = shared()
    assert before == ["evaluate", "sklearn", "sqlalchemy"]
    assert after == []


@pytest.mark.parametrize("metric", ["rouge", "google_bleu"])
def test_the_metrics_that_need_nltk_import_it_when_first_computed(metric):
    before, after = shared(metric)
    assert "nltk" not in before
    assert "nltk" in after
