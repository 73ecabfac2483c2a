# Loonbrug: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup browser demo test lint format bench soak clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov cannot share .venv (packaging pins clash with pytest); it gets its own virtualenv.
.venv-checkov/.installed: requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed .venv-checkov/.installed node_modules/.installed

## browser: Debian's chromium for the portal's browser tests (Playwright drives it; it never
## downloads a browser). Idempotent: does nothing when chromium (or LOONBRUG_CHROMIUM) is there.
CHROMIUM ?= $(or $(LOONBRUG_CHROMIUM),chromium)
browser:
	@if ! command -v $(CHROMIUM) >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    echo "installing chromium (Debian package) for the browser tests"; \
	    $$SUDO apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is not installed and there is no apt-get (not Debian or Ubuntu)."; \
	    echo "Install Chromium (or Chrome) yourself and point LOONBRUG_CHROMIUM at its executable,"; \
	    echo "e.g. LOONBRUG_CHROMIUM=/usr/bin/chromium-browser make test. The browser tests fail"; \
	    echo "with this same message until then (Playwright never downloads a browser)."; \
	    exit 1; \
	  fi; \
	fi

## demo: start Azurite, the sandboxes and the local host; run the nightly sync and print what it did
## (needs .venv and node_modules only: not the checkov virtualenv; --verbose: HTTP detail too)
demo: $(VENV)/.installed node_modules/.installed
	$(BIN)/python -m devtools.demo $(ARGS)

## test: lint, type-check and run the whole suite (unit, integration on Azurite, end-to-end)
## -n 2: one pytest process per core, each with its own Azurite (free ports); --dist loadfile keeps a
## file's module-scoped worlds in one process. --durations: the slowest tests, for keeping it < 10 min.
test: setup lint browser
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25

## lint: ruff and mypy (Python); tsc type-checks portal/js from its JSDoc (tsconfig.json) and
## Node's test runner runs the portal's unit tests (tests/portal/, the pure helpers; < 1 s)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	node_modules/.bin/tsc -p tsconfig.json
	node --test tests/portal/

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks (not part of make test); prints tables, writes docs/performance.md
bench: setup
	$(BIN)/python -m bench

## soak: the long randomized runs (>= 1,000 API fuzz cases and the seeded sync soak: hundreds of
## jobs with random faults); writes its figures into docs/reliability.md
soak: setup
	SOAK_WRITE_DOCS=1 $(BIN)/python -m pytest -m soak -p no:cacheprovider -s

clean:
	rm -rf $(VENV) .venv-checkov node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis \
	  .import_linter_cache artifacts .schemathesis
