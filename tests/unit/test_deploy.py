"""The image and the Kubernetes manifests: linted, schema-valid, and wired to the service's contract."""
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from aiqa_fixtures import ROOT

MANIFESTS = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "deploy" / "k8s" / name).read_text())


@pytest.fixture(scope="module")
def container() -> dict:
    return load("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_each_manifest_is_valid_against_the_kubernetes_schemas(path):
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_the_validator_rejects_a_wrong_manifest():
    broken = load("deployment.yaml")
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_probes_use_the_health_endpoints_and_a_gpu_is_requested(container):
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    port = container["ports"][0]
    assert port["name"] == "http" and port["containerPort"] == 8000


def test_termination_grace_outlasts_the_pre_stop_pause_and_graceful_shutdown(container):
    spec = load("deployment.yaml")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] > pause + int(env["AIQA_GRACEFUL_TIMEOUT"])


def test_service_pdb_and_hpa_point_at_the_deployment():
    labels = load("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert load("service.yaml")["spec"]["selector"].items() <= labels.items()
    assert load("pdb.yaml")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = load("hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "aiqa"
    scaled_on = {m.get("resource", m.get("pods", {}).get("metric", {})).get("name") for m in hpa["metrics"]}
    assert scaled_on == {"cpu", "aiqa_queue_depth"}
    assert "aiqa_queue_depth" in load("prometheus-adapter-rules.yaml")["data"]["config.yaml"]


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    run = subprocess.run([hadolint, "--failure-threshold", "info", "-"], input=DOCKERFILE,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_image_is_multi_stage_non_root_with_a_healthcheck_and_a_cache_volume():
    assert DOCKERFILE.count("\nFROM ") == 2 and "ARG BASE_IMAGE=" in DOCKERFILE
    assert "\nUSER 10001" in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE and "/livez" in DOCKERFILE
    assert 'VOLUME ["/cache"]' in DOCKERFILE and "AIQA_CACHE_DIR=/cache/aiqa" in DOCKERFILE
    copied = {name for line in DOCKERFILE.splitlines() if line.startswith("COPY ") and "--from" not in line
              for name in line.split()[1:-1]}
    allowed = (ROOT / ".dockerignore").read_text()  # a whitelist: what is copied must be let in
    assert {"gunicorn.conf.py", "openapi.yaml", "service"} <= copied
    assert all(f"!{name}" in allowed for name in copied)


def test_replicas_share_one_database_from_a_secret(container):
    env = {item["name"]: item for item in container["env"]}
    assert env["AIQA_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "aiqa-database", "key": "url"}
    from service.config import DEFAULTS
    assert {"DATABASE_URL", "RUN_RETENTION_DAYS"} <= set(DEFAULTS)
