# Kitteh's tasks. `make run` and `make test` are the two a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint format migrate bootstrap reconcile relay package bench doctor localstack-start localstack-stop clean

$(VENV)/.installed-local: requirements.txt requirements-local.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-local.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed-local ## serve the app on the embedded default (KITTEH_STACK=localstack for LocalStack + PostgreSQL)
	$(PY) -m kitteh.local

test: lint ## lint, then the whole suite (moto, PostgreSQL, LocalStack, the Zappa package)
	localstack/with-localstack.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(VENV)/.installed-local ## upgrade DATABASE_URL's schema through handlers.migrate
	$(PY) -c 'import json, sys; from handlers.migrate import handler; r = handler({}, None); print(json.dumps(r)); sys.exit("error" in r)'

bootstrap: $(VENV)/.installed-local ## create buckets, queue, notification and CORS on the configured endpoint
	$(PY) -m kitteh.bootstrap

doctor: $(VENV)/.installed-local ## check a running stack end to end (STAGE=dev: a deployed stage)
	$(PY) -m flask --app app kitteh doctor $(if $(STAGE),--stage $(STAGE))

reconcile: $(VENV)/.installed-local ## settle uploads that no event settled (what the hourly schedule runs)
	$(PY) -c 'import json; from handlers.maintenance import handler; print(json.dumps(handler({}, None)))'

relay: $(VENV)/.installed-local ## deliver queued S3 events to the resize function
	$(PY) -m kitteh.relay

package: ## the dev stage's Lambda package, build/dev.zip (docs/deploy.md)
	scripts/package.sh dev build/dev.zip

bench: $(VENV)/.installed-dev package ## resize, cold start, end-to-end and gallery benchmarks → bench/RESULTS.md
	bench/run.sh

localstack-start:
	localstack/start.sh

localstack-stop:
	localstack/stop.sh

clean:
	rm -rf build instance .pytest_cache .ruff_cache
