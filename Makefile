# The two commands a fresh machine needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast install bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Install into .venv and start the web app on http://127.0.0.1:8000 (MicroAST and
## "Painterly (slow)" work offline with the weights bundled in the package; the others are
## fetched on the admin page, /admin, or with `dreamgen weights download`)
run: $(STAMP)
	$(BIN)/dreamgen serve

## Install into .venv and run the whole test suite (the browser tests need Debian's chromium)
test: $(STAMP)
	$(BIN)/python -m pytest

## The fast tier, for the inner loop: engines, video, weights, the queue, the web app and the
## command line, without the slow tests (minutes, not a quarter of an hour; docs/development.md)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests/engine tests/video tests/weights tests/jobs \
		tests/web tests/cli tests/batches tests/test_architecture.py tests/test_code_map.py \
		tests/test_settings.py tests/test_storage.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache
