# abusedesk: the two commands a fresh machine needs are `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# extras to install: `make test EXTRAS=dev,spark` also runs the Spark engine test
EXTRAS ?= dev

.PHONY: install run test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $@

run: install
	$(BIN)/abusedesk db upgrade
	$(BIN)/abusedesk demo load
	@echo "abusedesk on http://127.0.0.1:8000 (API docs: /docs)"
	$(BIN)/abusedesk serve

test: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
