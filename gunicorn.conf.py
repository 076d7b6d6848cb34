"""gunicorn settings for aiqa; every value can be overridden with an AIQA_* environment variable.

No preload: each worker imports the app and loads its models after the fork, so CUDA is never
initialised in the master (a CUDA context does not survive fork) and a worker crash reloads only
that worker. Workers use threads (gthread) so concurrent requests to one worker can share a batch.
"""
import os
import shutil
import tempfile

bind = os.environ.get("AIQA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("AIQA_WORKERS", "1"))
worker_class = "gthread"
threads = int(os.environ.get("AIQA_THREADS", "16"))
preload_app = False
# Model loading happens in a background thread; this only bounds a stuck request.
timeout = int(os.environ.get("AIQA_WORKER_TIMEOUT", "120"))
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


def post_fork(server, worker):
    # Share the cores between workers instead of letting each take them all.
    cores = os.cpu_count() or 1
    os.environ.setdefault("AIQA_TORCH_THREADS", str(max(1, cores // max(1, workers))))


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
