# SyncCash: `make run` serves everything on the embedded default; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
# uv on the PATH if there is one; otherwise the one pip installs as a module of $(PYTHON).
UV_BIN := $(shell command -v uv 2>/dev/null)
ifeq ($(UV_BIN),)
UV := $(PYTHON) -m uv
UV_SHOWN := $(PYTHON) -m uv
else
UV := $(UV_BIN)
UV_SHOWN := uv
endif
export UV_PYTHON_DOWNLOADS := never
# The workspace members; `make lint` checks each one's manifest against its imports (deptry).
MEMBERS := packages/synccash-core packages/synccash-adapters packages/synccash-client services/api services/worker tools

.PHONY: setup run test lint typecheck unit bench bench-core bench-db bench-api bench-lifecycle chaos clean

setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet 'uv>=0.5'
	$(UV) sync --locked

run: setup
	@echo "The synccash CLI lives in .venv: call it as '$(UV_SHOWN) run synccash ...', or 'source .venv/bin/activate' first"
	$(UV) run synccash serve

lint: setup
	$(UV) run ruff check .
	$(UV) run lint-imports
	@for member in $(MEMBERS); do \
	  echo "deptry $$member"; \
	  $(UV) run deptry $$member/src --config $$member/pyproject.toml || exit 1; \
	done

typecheck: setup
	$(UV) run mypy packages/synccash-core/src packages/synccash-adapters/src packages/synccash-client/src services/api/src services/worker/src tools/src

unit: setup
	$(UV) run pytest tests/unit -q

test: lint typecheck
	$(UV) run pytest -q $(PYTEST_ARGS)

# Benchmarks print numbers (never timed tests). `make bench` runs them all (~10 min on two
# cores), writes bench/results.json (cores, date, commit, load average) and prints a table;
# each bench-<name> runs one and updates its entry in bench/results.json.
.PHONY: bench-scaling bench-polling
bench: setup
	$(UV) run python -m synccash.bench.run_all

bench-core: setup
	$(UV) run python -m synccash.bench.run_all core

bench-db: setup
	$(UV) run python -m synccash.bench.run_all db

bench-api: setup
	$(UV) run python -m synccash.bench.run_all api

bench-lifecycle: setup
	$(UV) run python -m synccash.bench.run_all lifecycle

bench-scaling: setup
	$(UV) run python -m synccash.bench.run_all scaling

# >= 1,000 in-flight MTN collections, callbacks dropped: peak status-query rate vs the budget
bench-polling: setup
	$(UV) run python -m synccash.bench.polling

# Chaos: 2,000 payments through API + 2 workers + sandboxes + PostgreSQL + Redis (separate
# processes) while providers fail, workers are killed, Redis is wiped and PostgreSQL restarts;
# prints `chaos payments=… lost=… double_debits=… mismatched=… stuck=…` (exit 1 if any > 0).
chaos: setup
	$(UV) run python -m synccash.bench.chaos --payments 2000

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
