# Two commands matter on a fresh machine: `make demo` and `make test`.
# Both create .venv with the project and its dev extra, pinned by requirements/dev.lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/dev.lock

.PHONY: install test lint typecheck pytest demo bench docs gen-docs reliability-doc lock clean \
	deployment-test screenshots

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "uv>=0.4"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r $(LOCK) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

LINT_PATHS := $(wildcard airflow_provider_usageintel tests dags_examples benchmarks)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

# Regenerate pages derived from code (a test fails when they are stale).
gen-docs: $(STAMP)
	$(BIN)/python -m airflow_provider_usageintel.api.reference docs/endpoints.md
	$(BIN)/python -m airflow_provider_usageintel.connection_fields docs/connections.md
	$(BIN)/python -m airflow_provider_usageintel.lake.reference docs/query.md

# Rerun the reliability suite and rewrite docs/reliability.md from it (a test fails when it is stale).
reliability-doc: $(STAMP)
	USAGEINTEL_WRITE_RELIABILITY=1 $(BIN)/python -m pytest tests/reliability -q

test: lint typecheck pytest docs

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_usageintel.demo

# The deployment test alone (also part of `make test`): PostgreSQL, api-server, dag-processor,
# triggerer and scheduler on loopback; LocalExecutor, then Celery with two workers.
deployment-test: $(STAMP)
	$(BIN)/python -m pytest tests/deployment -v

# Pictures of the UI for docs/img/, taken with headless Chromium (Debian's package).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
screenshots: $(STAMP)
	command -v chromium >/dev/null 2>&1 || ($(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium)
	$(BIN)/python -m tests.deployment.screenshots docs/img

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# Re-resolve the pinned dependency set (needs the package registry).
lock:
	test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet uv)
	$(BIN)/uv pip compile --quiet --universal --python-version 3.10 --extra dev pyproject.toml -o $(LOCK)

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
