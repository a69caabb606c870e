# Consortium Manager: `make run` starts the app with the demo partnership, `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/consortium_manager
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Python keeps the modules it compiles (in __pycache__/, which git ignores), even where the
# environment asks it not to: every process the suite starts (its two workers, the Celery workers,
# `manage.py` for the SQLite app) would otherwise compile Django and the project again.
export PYTHONDONTWRITEBYTECODE :=

# What WeasyPrint needs from Debian to write the reports' PDFs.
SYSTEM_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 fonts-dejavu-core

.PHONY: help system-libs browser faketime install install-dev run worker test test-dates fuzz screenshots lint lint-deploy drills bench load format messages clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

system-libs: ## Install the Debian libraries PDF reports need, when missing
	@if ! ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0.so.0 \
		|| ! ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset.so.0; then \
		echo "Installing $(SYSTEM_LIBS) for PDF reports"; \
		apt-get install -y --no-install-recommends $(SYSTEM_LIBS) \
		|| (apt-get update && apt-get install -y --no-install-recommends $(SYSTEM_LIBS)); \
	fi

browser: ## Install Debian's Chromium for the browser tests, when missing
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing chromium for the browser tests"; \
		apt-get install -y --no-install-recommends chromium \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium); \
	fi

faketime: ## Install Debian's faketime for test-dates, when missing
	@if ! command -v faketime >/dev/null; then \
		echo "Installing faketime for the suite on other dates"; \
		apt-get install -y --no-install-recommends faketime \
		|| (apt-get update && apt-get install -y --no-install-recommends faketime); \
	fi

install: $(UV) system-libs ## Create .venv with the locked runtime dependencies
	$(UV) sync --frozen --no-dev --python $(PYTHON)

install-dev: $(UV) system-libs ## Create .venv with the locked runtime and development dependencies
	$(UV) sync --frozen --python $(PYTHON)

run: install ## Migrate, seed the demo once, start the web server (and Celery when Redis answers)
	$(BIN)/python manage.py migrate --no-input
	@if command -v msgfmt >/dev/null; then $(BIN)/python manage.py compilemessages --ignore=.venv --ignore=.tools -v0; fi
	$(BIN)/python manage.py seed_demo
	@set -m; \
	if $(BIN)/python -c "import redis,sys; redis.Redis.from_url('$(REDIS_URL)', socket_connect_timeout=1).ping()" 2>/dev/null; then \
		echo "Redis answers at $(REDIS_URL): starting a Celery worker with beat."; \
		REDIS_URL=$(REDIS_URL) $(BIN)/celery -A config worker --beat --loglevel=info --concurrency=2 \
			--queues "$${CELERY_QUEUE:-consortium-manager},$${CELERY_QUEUE:-consortium-manager}.webhooks" & \
		trap "kill %1 2>/dev/null" EXIT INT TERM; \
	else \
		echo "Redis does not answer at $(REDIS_URL): no background worker (reports and reminders wait)."; \
	fi; \
	echo ""; \
	echo "  Consortium Manager: http://127.0.0.1:$(PORT)/admin/"; \
	echo "  Demo logins (password: demo): coordinator, observer, partner1, partner2"; \
	echo ""; \
	REDIS_URL=$(REDIS_URL) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install-dev browser ## Run the whole test suite on PostgreSQL, on two cores (DATABASE_URL overrides)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

# The days test-dates moves the machine's clock to: a summer in the middle of the jobs horizon,
# and a New Year's Day past it, years after the test consortium ended.
TEST_DATES ?= 2027-07-01 2031-01-01
# Which tests test-dates runs (pytest's arguments): all of them unless told.
TEST_ARGS ?=

test-dates: install-dev browser faketime ## Run the whole suite again with the clock on each of TEST_DATES (faketime)
	@failed=""; for day in $(TEST_DATES); do \
		echo "The suite with the clock on $$day"; \
		FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH=$(CURDIR)/tests/faketime \
			DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
			faketime -f "@$$day 09:00:00" $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder $(TEST_ARGS) || failed="$$failed $$day"; \
	done; \
	if [ -n "$$failed" ]; then echo "The suite failed with the clock on:$$failed"; exit 1; fi

fuzz: install-dev ## Fuzz every API operation deeper: random, 100 examples each, failures kept in var/hypothesis
	mkdir -p var/hypothesis
	FUZZ=deep DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		$(BIN)/pytest -n 2 --dist load tests/api/test_schema_fuzz.py

screenshots: install-dev browser ## Photograph the partner and coordinator dashboards, an expense review, the funder's overview and a semester report's cover into docs/
	PORTAL_SCREENSHOTS_DIR=$(CURDIR)/docs DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		DJANGO_ALLOW_ASYNC_UNSAFE=true \
		$(BIN)/pytest tests/demo/test_walkthrough.py tests/reporting/test_funder_walk.py

lint: install-dev ## ruff, mypy, no missing migration, the Dockerfile (hadolint), the Procfile, check --deploy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/hadolint Dockerfile
	$(BIN)/honcho check
	$(MAKE) --no-print-directory lint-deploy

lint-deploy: install-dev ## Django's deployment checklist on the production settings with the example environment
	set -a && source deploy/env.example && set +a && \
		DJANGO_SETTINGS_MODULE=config.settings.production \
		DATABASE_URL=postgres://consortium@127.0.0.1:5432/consortium \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

drills: install-dev ## Start the production topology on this machine and break it six ways; print each figure
	PYTHONPATH=$(CURDIR) $(BIN)/python -m tests.drills

# How big `make bench` grows the demo (20: the demo grown 20× with 19 consortia beside it, and a
# million expense lines and job records of other consortia; 1: a tiny run that proves it works).
BENCH_SCALE ?= 20
# How many interleaved runs each median of `make bench` takes (after a warm-up).
BENCH_RUNS ?= 7

bench: install-dev ## Measure reports, API lists, pages, memory, import and statement against their floors, at 1×, 20× and beside a million rows
	BENCH_SCALE=$(BENCH_SCALE) BENCH_RUNS=$(BENCH_RUNS) PYTHONPATH=$(CURDIR) $(BIN)/python -m tests.bench

load: install-dev ## Load the production topology (gunicorn) with locust on loopback; print rates, latencies and errors
	PYTHONPATH=$(CURDIR) $(BIN)/python -m tests.bench.load

format: install-dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: install-dev ## Extract the French and English catalogues and compile them
	$(BIN)/python manage.py makemessages -l fr -l en --ignore=.venv --ignore=.tools --ignore=var --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=.tools

clean: ## Remove the virtualenvs and the local database and files
	rm -rf $(VENV) .tools var
