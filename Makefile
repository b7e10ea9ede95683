# The two commands a newcomer needs: `make run` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3

.PHONY: run test migrate clean

# Re-install whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask --app armada db upgrade

# Serve exactly as the Procfile's web line does (gevent worker, one per process), on the embedded default.
run: migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" sh -c "$$(sed -n 's/^web: //p' Procfile)"

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
