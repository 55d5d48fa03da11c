# SocialDesk: `make run` starts the whole desk with demo data; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PORT ?= 8000
SIMULATOR_PORT ?= 8100

# Tests and benchmarks always run against PostgreSQL and Redis.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/socialdesk
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/socialdesk_bench
# The suite runs on this many processes (pytest-xdist), each with its own databases. One more
# than the two cores: much of the suite waits on a browser, a Celery worker or the simulator, and
# with two processes the cores were idle almost half the time.
TEST_WORKERS ?= 3
# Production settings require CREDENTIALS_KEY; this one is for tests and benchmarks only.
TEST_CREDENTIALS_KEY := dGVzdC1vbmx5LWNyZWRlbnRpYWxzLWtleS0wMDAwMDA=

.PHONY: help run test test-fast bench chaos lint format messages install clean stop-embedded

help:
	@echo "make run    install, migrate, load demo data, start web+worker+beat+simulator on :$(PORT)"
	@echo "make test   install and run the whole suite against PostgreSQL and Redis"
	@echo "make test-fast  the suite without the end-to-end and browser tests"
	@echo "make bench  print the performance figures (name: value per line)"
	@echo "make chaos  run the fault harness and print its figures (name: value per line)"
	@echo "make lint   ruff check and format check"
	@echo "make messages  update and compile the Spanish catalogue (needs gettext)"

$(STAMP): pyproject.toml scripts/find-python.sh
	@PYTHON=$$(scripts/find-python.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "Creating $(VENV) with $$PYTHON"; rm -rf $(VENV); "$$PYTHON" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@export DEBUG=$${DEBUG:-true} SIMULATOR_URL=$${SIMULATOR_URL:-http://127.0.0.1:$(SIMULATOR_PORT)} \
		WEB_PORT=$(PORT) SIMULATOR_PORT=$(SIMULATOR_PORT); \
	if [ -z "$$DATABASE_URL" ]; then \
		echo "DATABASE_URL is not set: starting the embedded PostgreSQL in var/pgdata"; \
		DATABASE_URL=$$($(PY) -m socialdesk.embedded) || exit 1; export DATABASE_URL; \
	fi; \
	echo "Database: $$DATABASE_URL"; \
	echo "Broker:   $${REDIS_URL:-embedded (filesystem queue in var/broker; set REDIS_URL for Redis)}"; \
	$(PY) manage.py migrate --no-input && \
	$(PY) manage.py load_demo && \
	exec $(BIN)/honcho -f Procfile.dev start

# The browser tests drive Debian's Chromium through Playwright (it cannot download its own).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install chromium'"; exit 1; \
	fi

# PYTHONDONTWRITEBYTECODE is emptied so pytest keeps its rewritten test modules between runs
# (rewriting every assert of the suite again costs ten seconds or more per run).
TEST_ENV = DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DEBUG=false \
	SECRET_KEY=test-only-secret SECURE_SSL_REDIRECT=false CREDENTIALS_KEY=$(TEST_CREDENTIALS_KEY) \
	PYTHONDONTWRITEBYTECODE=

test: $(STAMP) $(CHROMIUM)
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not e2e" $(PYTEST_ARGS)

bench: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DEBUG=false SECRET_KEY=bench-only-secret \
		CREDENTIALS_KEY=$(TEST_CREDENTIALS_KEY) \
		SECURE_SSL_REDIRECT=false $(PY) -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The Spanish catalogue: collect the marked words, then compile the .mo that is committed.
messages: $(STAMP)
	$(PY) manage.py makemessages -l es --ignore=.venv --ignore=tests --ignore=bench \
		--ignore='*/migrations/*' --ignore=var --no-obsolete --add-location=file --no-wrap
	$(PY) manage.py compilemessages -l es --ignore=.venv

stop-embedded:
	-$(PY) -m socialdesk.embedded stop

clean: stop-embedded
	rm -rf $(VENV) var .pytest_cache

# The fault harness: its own PostgreSQL, Redis, simulator, workers and beat under var/chaos/.
CHAOS_ARGS ?= --posts 20000 --replies 1000
chaos: $(STAMP)
	@mkdir -p var
	$(PY) -m socialdesk.chaos $(CHAOS_ARGS) 2>var/chaos.log; status=$$?; \
		[ $$status -eq 0 ] || { tail -n 40 var/chaos.log; exit $$status; }
