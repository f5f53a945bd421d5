# The two commands a fresh machine needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

SHARED_WEIGHTS ?= ../shared/weights

## Install into .venv and start the web app on http://127.0.0.1:8000
run: $(STAMP)
	@# Weights already on this machine (the team's shared folder) are imported, never downloaded.
	@if [ -d "$(SHARED_WEIGHTS)" ]; then $(BIN)/dreamgen weights import "$(SHARED_WEIGHTS)"; \
	 else echo "No local weights folder: run '$(BIN)/dreamgen weights download' once (needs internet)."; fi
	$(BIN)/dreamgen serve

## Install into .venv and run the whole test suite (the browser tests need Debian's chromium)
test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache
