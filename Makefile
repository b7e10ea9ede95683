# The two commands a newcomer needs: `make run` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
JS     := tests/js
BENCH_NODE := bench/node

.PHONY: run test lint migrate clean bench soak

# Re-install whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The official socket.io-client for tests/system/test_js_client.py and @asyncapi/parser for tests/api/test_asyncapi.py;
# re-installed whenever the lock file changes (npm ci empties node_modules first, so the stamp inside it goes too).
$(JS)/node_modules/.installed: $(JS)/package-lock.json $(JS)/package.json
	cd $(JS) && npm ci --no-audit --no-fund
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask --app armada db upgrade

# Serve exactly as the Procfile's web line does (gevent worker, one per process), on the embedded default.
run: migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" sh -c "$$(sed -n 's/^web: //p' Procfile)"

test: $(VENV)/.installed $(JS)/node_modules/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

# Ruff (lint and format) and mypy, as configured in pyproject.toml.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks (not part of `make test`): the Node load generator and peer server, matplotlib and py-spy.
# BENCH_ARGS picks scenarios and options, e.g. `make bench BENCH_ARGS="latency --quick"`.
$(BENCH_NODE)/node_modules/.installed: $(BENCH_NODE)/package-lock.json $(BENCH_NODE)/package.json
	cd $(BENCH_NODE) && npm ci --no-audit --no-fund
	touch $@

$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.txt
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.bench-installed $(BENCH_NODE)/node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run $(BENCH_ARGS)

# Ten minutes of 1,000 clients on two processes (Redis + PostgreSQL); results go into BENCHMARKS.md too.
soak: $(VENV)/.bench-installed $(BENCH_NODE)/node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run soak $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache $(JS)/node_modules $(BENCH_NODE)/node_modules
