# jiesu — `make run` starts everything, `make test` runs the tests. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-faults test-fuzz install lint format test-db clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# the console's front-end dependencies (htmx) from the npm registry, as package-lock.json pins them; without npm
# the console still works (plain forms, full page loads)
HTMX := node_modules/htmx.org/dist/htmx.min.js
$(HTMX): package-lock.json
	if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $(HTMX); \
	else echo "npm not found: the console runs without htmx"; fi

install: $(STAMP) $(HTMX)

run: $(STAMP) $(HTMX)
	$(BIN)/jiesu dev

# the browser tests drive Debian's chromium (with CJK fonts); installed when missing (needs root and apt)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	command -v apt-get >/dev/null && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk

# make test: every test except the long fault and fuzz runs; their short smoke versions are included
test: $(STAMP) $(CHROMIUM) $(HTMX)
	$(BIN)/python -m pytest -q -m "not (faults or fuzz) or smoke"

# crash and outage tests (kill -9 the worker, restart Temporal, database down 30 s, timers due while down)
test-faults: $(STAMP)
	TEST_DATABASE_URL="$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}" \
	$(BIN)/python -m pytest -q -m faults tests/faults

# schemathesis against the live OpenAPI schema, every endpoint, a token per role
test-fuzz: $(STAMP)
	$(BIN)/python -m pytest -q -m fuzz tests/fuzz

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core rules workflows services api activities tools
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf .data .pytest_cache
