# Kitteh's tasks. `make run` and `make test` are the two a newcomer needs.
# The venv runs the CPython that zappa_settings.json's runtime names (scripts/find-python.sh
# finds it on PATH or in pyenv; PYTHON=/path/to/python3.13 picks one).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# A stage of zappa_settings.json for the deploy commands (they use your AWS credentials).
STAGE ?=
DEPLOY := $(PY) -m scripts.deploy
NEED_STAGE = @test -n "$(STAGE)" || { echo "usage: make $@ STAGE=dev (a stage of zappa_settings.json)"; exit 2; }

.PHONY: run test lint lock format migrate bootstrap reconcile relay package bench doctor deploy wire logs undeploy localstack-start localstack-stop clean

$(VENV)/.installed-local: requirements-local.txt zappa_settings.json
	scripts/venv.sh $(VENV) requirements-local.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local requirements-dev.txt
	scripts/venv.sh $(VENV) requirements-dev.txt
	touch $@

# Every lock is compiled by uv with hashes at the versions of the one below it: requirements.txt
# (what ships, for Lambda's Amazon Linux 2023 on x86_64) <- requirements-zappa.txt (the package
# venv) and requirements-local.txt (make run) <- requirements-dev.txt (make test) <- the bench's.
# Without UPGRADE a lock keeps its pins and only follows changed .in files.
LOCK = $(VENV)/bin/uv pip compile --no-config --quiet --generate-hashes --no-strip-extras \
	--python-version $(shell scripts/find-python.sh --runtime) $(if $(UPGRADE),--upgrade)
LAMBDA_PLATFORM = --python-platform x86_64-manylinux_2_34

lock: $(VENV)/.installed-dev ## recompile every requirements*.in into its hashed lock (UPGRADE=1: newest releases)
	$(LOCK) $(LAMBDA_PLATFORM) -o requirements.txt requirements.in
	$(LOCK) $(LAMBDA_PLATFORM) -o requirements-zappa.txt requirements-zappa.in
	$(LOCK) --universal -o requirements-local.txt requirements-local.in
	$(LOCK) --universal -o requirements-dev.txt requirements-dev.in
	$(LOCK) --universal -o bench/requirements.txt bench/requirements.in

run: $(VENV)/.installed-local ## serve the app on the embedded default (KITTEH_STACK=localstack for LocalStack + PostgreSQL)
	$(PY) -m localcloud.run

test: lint ## lint, then the whole suite (moto, PostgreSQL, LocalStack, the Zappa package)
	localstack/with-localstack.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev ## ruff check, ruff format --check, mypy, the import layers
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(VENV)/.installed-local ## DATABASE_URL's schema to head; STAGE=dev: the stage's, by zappa invoke
ifdef STAGE
	$(DEPLOY) migrate $(STAGE) $(if $(REVISION),--revision $(REVISION))
else
	$(PY) -c 'import json; from handlers.migrate import handler; print(json.dumps(handler({}, None)))'
endif

deploy: $(VENV)/.installed-local ## STAGE=...: package (or ZIP=), zappa deploy/update, migrate, wire, smoke test
	$(NEED_STAGE)
	$(DEPLOY) deploy $(STAGE) $(if $(ZIP),--zip $(ZIP)) $(if $(URL),--url $(URL))

wire: $(VENV)/.installed-local ## STAGE=...: converge buckets, CORS, the S3/SQS trigger (make deploy does it)
	$(NEED_STAGE)
	$(DEPLOY) wire $(STAGE)

logs: $(VENV)/.installed-local ## STAGE=...: follow the function's logs (zappa tail; SINCE=1h)
	$(NEED_STAGE)
	$(DEPLOY) logs $(STAGE) --since $(or $(SINCE),1h)

undeploy: $(VENV)/.installed-local ## STAGE=...: remove the S3 trigger, then zappa undeploy (buckets stay)
	$(NEED_STAGE)
	$(DEPLOY) undeploy $(STAGE)

bootstrap: $(VENV)/.installed-local ## create buckets, queue, notification and CORS on the configured endpoint
	$(PY) -m ops.bootstrap

doctor: $(VENV)/.installed-local ## check a running stack end to end (STAGE=dev: a deployed stage)
	$(PY) -m flask --app app kitteh doctor $(if $(STAGE),--stage $(STAGE))

reconcile: $(VENV)/.installed-local ## settle uploads that no event settled (what the hourly schedule runs)
	$(PY) -c 'import json; from handlers.maintenance import handler; print(json.dumps(handler({}, None)))'

relay: $(VENV)/.installed-local ## deliver queued S3 events to the resize function
	$(PY) -m localcloud.relay

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
