# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOME_DIR ?= .credledger

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## run: the whole system on the embedded default (Postgres + broker + services); DEMO=1 seeds demo data
run: $(STAMP)
	$(BIN)/credledger up --home $(HOME_DIR) $(if $(DEMO),--demo)

## test: the whole suite against real Postgres and the real broker
test: $(STAMP)
	$(BIN)/python -m pytest

## bench: every benchmark script (figures beside their raw limits)
bench: $(STAMP)
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
