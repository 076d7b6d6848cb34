"""gunicorn settings for aiqa; every value can be overridden with an AIQA_* environment variable.

No preload of the app: each worker builds the app and loads its models after the fork, so CUDA is
never initialised in the master (a CUDA context does not survive fork) and a worker crash reloads
only that worker. The master does import the modules every worker needs and no model touches
(`on_starting`), so the workers share them. Workers use threads (gthread) so concurrent requests to
one worker can share a batch.
"""
import os
import shutil
import sys
import tempfile

bind = os.environ.get("AIQA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("AIQA_WORKERS", "1"))
# gthread, with each request read whole in the worker's event loop before it takes a thread, so slow
# clients cannot hold the request threads (408 after AIQA_READ_TIMEOUT_S); see service/serving.py.
worker_class = "service.serving.BufferingWorker"
threads = int(os.environ.get("AIQA_THREADS", "16"))
preload_app = False
# A worker silent for this long is killed and replaced. Models load in a background thread by
# default; with AIQA_LOAD_IN_BACKGROUND=false they load before the worker accepts, and this must
# then exceed the load time.
timeout = int(os.environ.get("AIQA_WORKER_TIMEOUT", "120"))
# SIGTERM (docker stop, the kubelet): stop accepting, let in-flight requests finish for up to this
# long, then exit. Kubernetes' terminationGracePeriodSeconds must be longer (deploy/k8s).
graceful_timeout = int(os.environ.get("AIQA_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = None  # the app writes one JSON line per request, with its request id
loglevel = os.environ.get("AIQA_LOG_LEVEL", "info").lower()

# Prometheus multiprocess mode: each worker writes its samples under this directory and /metrics
# sums them. It must be set before prometheus_client is imported by a worker.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aiqa-prometheus-")


def on_starting(server):
    # Start from an empty directory so counters of a previous run are not summed in.
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    # AIQA_ENGINE=process: the models live in one model process that the workers hand their calls
    # to (service/model_process); started here, before the workers, and started again if it dies.
    if os.environ.get("AIQA_ENGINE", "inline") == "process":
        from service.model_process.supervisor import Supervisor
        server.aiqa_model_process = Supervisor(on_exit=_mark_dead, logger=server.log).start()
    # What every worker imports and never changes (blueprints, store, the metric modules and their
    # libraries) is imported here, once, and shared copy-on-write by the workers forked after it;
    # evaluate's import of transformers, and with it torch, is made to fail meanwhile (no CUDA in
    # the master). Inline workers take that block off in post_fork.
    from service.config import read_config
    if read_config()["SHARE_IMPORTS"]:
        sys.modules.setdefault("transformers", None)
        from service import share_imports
        share_imports()


def post_fork(server, worker):
    # Request threads and the batcher thread share one GIL. The batcher gives the GIL up around
    # every kernel launch; a short switch interval lets it take it back quickly, so busy request
    # threads do not stretch a forward pass (the default interval is 5 ms).
    sys.setswitchinterval(float(os.environ.get("AIQA_SWITCH_INTERVAL", "0.0005")))
    # Share the cores between workers instead of letting each take them all.
    cores = os.cpu_count() or 1
    os.environ.setdefault("AIQA_TORCH_THREADS", str(max(1, cores // max(1, workers))))
    # A process-mode worker runs no model; the model process does. evaluate, which the metric modules
    # import, would import transformers for pipelines this worker never builds, and transformers
    # torch (about 300 MB a worker): the import stays failing there, as evaluate allows for. An
    # inline worker loads its models with transformers: the master's block comes off.
    if os.environ.get("AIQA_ENGINE", "inline") == "process":
        sys.modules.setdefault("transformers", None)
    elif sys.modules.get("transformers", False) is None:
        del sys.modules["transformers"]


def _mark_dead(pid):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(pid)


def child_exit(server, worker):
    _mark_dead(worker.pid)


def on_exit(server):
    model_process = getattr(server, "aiqa_model_process", None)
    if model_process is not None:
        model_process.stop()
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
