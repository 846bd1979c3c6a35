# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOME_DIR ?= .credledger
INTEROP_JS := tests/interop/js
INTEROP_STAMP := $(INTEROP_JS)/node_modules/.installed-stamp
BROWSER_JS := tests/browser/js
BROWSER_STAMP := $(BROWSER_JS)/node_modules/.installed-stamp
LINT_STAMP := $(VENV)/.lint-installed-stamp

.PHONY: run test lint bench clean interop-deps browser-deps

# setup.py builds the optional C accelerators: a changed source rebuilds them.
$(STAMP): pyproject.toml setup.py $(wildcard shared/ledger/transparency/_chunkhash*) $(wildcard shared/crypto/_base58*) $(wildcard shared/crypto/_jcsproof*)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The JavaScript (DCC / Digital Bazaar) verifier of the interop test, from the
# lockfile; without npm that test skips, so this only warns.
$(INTEROP_STAMP): $(INTEROP_JS)/package.json $(INTEROP_JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(INTEROP_JS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed-stamp; \
	else echo "make: npm not found; the JavaScript interop test will skip"; fi

# Ruff and mypy come from the [lint] extra, on top of the test install.
$(LINT_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $@

## interop-deps: npm ci for the JavaScript interop verifier (tests/interop/js)
interop-deps: $(INTEROP_STAMP)

# axe-core for the browser tests' accessibility check, from the lockfile;
# without npm those checks skip (saying so), so this only warns.
$(BROWSER_STAMP): $(BROWSER_JS)/package.json $(BROWSER_JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(BROWSER_JS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed-stamp; \
	else echo "make: npm not found; the browser tests' axe-core checks will skip"; fi

## browser-deps: npm ci for axe-core (tests/browser/js)
browser-deps: $(BROWSER_STAMP)

## run: the whole system on the embedded default (Postgres + broker + services); DEMO=1 seeds demo data
run: $(STAMP)
	$(BIN)/credledger up --home $(HOME_DIR) $(if $(DEMO),--demo)

## test: the whole suite against real Postgres and the real broker
test: $(STAMP) $(INTEROP_STAMP) $(BROWSER_STAMP)
	$(BIN)/python -m pytest

## lint: ruff (pyflakes, bugbear, pyupgrade, simplify, isort) and mypy (strict on shared/)
lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: every benchmark script (figures beside their raw limits)
bench: $(STAMP)
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
