# The two commands a newcomer needs: `make run` and `make test`. Each first checks the system packages it needs
# (.ci/setup: installed with apt-get when run as root on Debian/Ubuntu, else one line saying what to install).
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
JS     := tests/js
BENCH_NODE := bench/node
SETUP  := PYTHON=$(PYTHON) .ci/setup

.PHONY: run test lint migrate clean bench soak system-packages

# The runtime only (requirements.txt, what production installs); re-installed whenever it changes.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || { $(SETUP) run && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The runtime plus the test and lint tools (requirements-dev.txt), for make test and make lint.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# What make test needs from the system: Chromium, node/npm, jq, curl; with ARMADA_TEST_DATABASE_URL or
# ARMADA_TEST_REDIS_URL also what their tests run (PostgreSQL, iproute2, redis-server, openssl, nginx).
system-packages:
	@$(SETUP) test

# The official socket.io-client for tests/system/test_js_client.py and @asyncapi/parser for tests/api/test_asyncapi.py;
# re-installed whenever the lock file changes (npm ci empties node_modules first, so the stamp inside it goes too).
$(JS)/node_modules/.installed: $(JS)/package-lock.json $(JS)/package.json | system-packages
	cd $(JS) && npm ci --no-audit --no-fund
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask --app armada db upgrade

# Serve exactly as the Procfile's web line does (gevent worker, one per process), on the embedded default.
# The web line itself reads PORT and WORKER_CONNECTIONS: `dotenv run` hands it .env's settings, the environment
# winning as it does in the app.
DOTENV_RUN = $(if $(wildcard .env),$(BIN)/dotenv -f .env run --no-override --)
run: migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" $(DOTENV_RUN) sh -c "$$(sed -n 's/^web: //p' Procfile)"

test: system-packages $(VENV)/.installed-dev $(JS)/node_modules/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

# Ruff (lint and format) and mypy, as configured in pyproject.toml.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks (not part of `make test`): the Node load generator and peer server, matplotlib and py-spy on top of
# requirements-dev.txt (the harness reuses tests/helpers).
# BENCH_ARGS picks scenarios and options, e.g. `make bench BENCH_ARGS="latency --quick"`.
$(BENCH_NODE)/node_modules/.installed: $(BENCH_NODE)/package-lock.json $(BENCH_NODE)/package.json
	cd $(BENCH_NODE) && npm ci --no-audit --no-fund
	touch $@

$(VENV)/.bench-installed: $(VENV)/.installed-dev bench/requirements.txt
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.bench-installed $(BENCH_NODE)/node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run $(BENCH_ARGS)

# Ten minutes of 1,000 clients on two processes (Redis + PostgreSQL); results go into BENCHMARKS.md too.
soak: $(VENV)/.bench-installed $(BENCH_NODE)/node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run soak $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache $(JS)/node_modules $(BENCH_NODE)/node_modules
