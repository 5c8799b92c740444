# Bakery-IA gateway: one entry point for developers and CI (.ci/run calls `make test`).
# GNU make. Every recipe runs in bash with -euo pipefail: a failing command fails the target.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.NOTPARALLEL:

PYTHON      ?= python3.11
VENV        := .venv
SAM_VENV    := .venv-sam
SAM_VERSION := 1.170.0
# Stamps: a virtualenv is (re)installed only when what it was built from changed. .venv has two:
# what running the gateway needs (`make run`, `make serve`: the [local] extra), and the dev tools on top.
RUN_STAMP   := $(VENV)/.installed-local
APP_STAMP   := $(VENV)/.installed
NEW_VENV     = test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
SAM_STAMP   := $(SAM_VENV)/.installed-aws-sam-cli-$(SAM_VERSION)
# checkov pins older boto3 and packaging than the app: its own virtualenv too.
CHECKOV_VENV    := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-checkov-$(CHECKOV_VERSION)
# locust brings gevent, flask and pins of its own: the load test runs from its own virtualenv too.
LOCUST_VENV     := .venv-locust
LOCUST_VERSION  := 2.47.0
LOCUST_STAMP    := $(LOCUST_VENV)/.installed-locust-$(LOCUST_VERSION)
CHECKOV         := $(CHECKOV_VENV)/bin/checkov
# Advisories `make audit` accepts, each with its reason.
AUDIT_IGNORE    := .pip-audit-ignore
PIP         := --disable-pip-version-check --quiet
SAM         := $(SAM_VENV)/bin/sam
# mypy cannot follow setuptools' package-dir mapping (bakery_local -> local/, bakery_functions ->
# functions/): it checks them through a folder of symlinks named like the packages, so its messages
# say build/mypy-path/bakery_local/x.py for local/x.py. bakery_gateway is found through
# mypy_path = layers/shared in pyproject.toml.
MYPY_PATH   := build/mypy-path
# Test and bench code is type-checked too, once those folders hold Python files.
MYPY_DIRS   = $(foreach dir,tests bench,$(if $(shell find $(dir) -name '*.py' -print -quit 2>/dev/null),$(dir)))
# apt-get as root (CI, these machines), through sudo otherwise.
SUDO        := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET     := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

# sam validate needs a region (no credentials); nothing here deploys. No telemetry from SAM.
export AWS_DEFAULT_REGION ?= eu-west-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv run serve lint audit build test bench bench-fanout bench-throughput bench-lambda load clean ensure-redis ensure-chromium ensure-pushgateway ensure-wrk deploy smoke sam-local ensure-docker

# help: list the targets.
help:
	@echo "make venv     create/refresh .venv (app + dev tools), .venv-sam (aws-sam-cli $(SAM_VERSION)), .venv-checkov"
	@echo "make run      serve template.yaml's API locally (bakery-gateway local \$$ARGS); installs .venv's runtime part only"
	@echo "make lint     ruff, ruff format --check, mypy, cfn-lint, sam validate --lint, checkov"
	@echo "make audit    pip-audit: known vulnerabilities in .venv's packages (ignore list: $(AUDIT_IGNORE))"
	@echo "make build    sam build (no container) into .aws-sam/"
	@echo "make sam-local  template.yaml under sam local start-api on :3000, with Docker and all it needs (\$$ARGS passed on)"
	@echo "make test     venv, redis-server, pushgateway, chromium, lint, audit, build, then pytest"
	@echo "make bench    bench/suite.py: latency, authorizer, cold starts, cost; appends to bench/results/suite.md (\$$ARGS passed on)"
	@echo "make bench-fanout  bench/fanout.py: alerts to N SSE + N WebSocket clients (\$$ARGS passed on)"
	@echo "make bench-throughput  bench/throughput.py: serve vs bare passthrough proxies under wrk (\$$ARGS passed on)"
	@echo "make bench-lambda  bench/lambda_power.py: each function in the Lambda image per memory size's CPU share (\$$ARGS passed on)"
	@echo "make serve    bakery-gateway serve: the production server (needs REDIS_HOST and JWT keys; \$$ARGS passed on)"
	@echo "make load     tests/load/locustfile.py headless against the local runtime (\$$ARGS passed on)"
	@echo "make deploy ENV=dev|staging|prod  sam deploy --config-env \$$ENV of the last build (\$$ARGS passed on)"
	@echo "make smoke URL=https://...  health, an authenticated call and the alert stream of a deployed stack"
	@echo "make clean    remove build output and caches (not the virtualenvs)"

# venv: every virtualenv the checks use, each reinstalled only when its inputs changed.
venv: $(APP_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP)

$(RUN_STAMP): pyproject.toml layers/shared/requirements.txt
	$(NEW_VENV)
	$(VENV)/bin/pip install $(PIP) -e '.[local]'
	touch $@

# [dev] includes [local]: installing it brings what `make run` needs up to date too.
$(APP_STAMP): pyproject.toml layers/shared/requirements.txt
	$(NEW_VENV)
	$(VENV)/bin/pip install $(PIP) -e '.[dev]'
	touch $@ $(RUN_STAMP)

# aws-sam-cli pins older boto3, click and pydantic: it lives apart from the app's dependencies.
$(SAM_STAMP):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP) 'aws-sam-cli==$(SAM_VERSION)'
	rm -f $(SAM_VENV)/.installed-aws-sam-cli-*
	touch $@

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP) 'checkov==$(CHECKOV_VERSION)'
	rm -f $(CHECKOV_VENV)/.installed-checkov-*
	touch $@

# run: the local runtime (HTTP API + authorizer cache + Redis) on localhost; e.g. make run ARGS='--port 8080'.
# It installs what running needs only: no dev tools, no aws-sam-cli, no checkov.
run: $(RUN_STAMP)
	$(VENV)/bin/bakery-gateway local $(ARGS)

# lint: style, types and the template; fails on the first complaint.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	mkdir -p $(MYPY_PATH)
	ln -sfn ../../functions $(MYPY_PATH)/bakery_functions
	ln -sfn ../../local $(MYPY_PATH)/bakery_local
	MYPYPATH=$(MYPY_PATH) $(VENV)/bin/mypy layers/shared/bakery_gateway \
	    $(MYPY_PATH)/bakery_functions $(MYPY_PATH)/bakery_local $(MYPY_DIRS)
	$(VENV)/bin/cfn-lint template.yaml infra/*.yaml
	$(SAM) validate --lint
	$(CHECKOV) --config-file .checkov.yaml -f template.yaml $(addprefix -f ,$(wildcard infra/*.yaml))

# audit: every package installed in .venv (the layer's requirements and the dev tools) against PyPI's
# advisory feed; fails on a known vulnerability unless $(AUDIT_IGNORE) lists its id with a reason.
# Only the layer's pins reach Lambda, but a dev tool runs on developers' and CI's machines too.
# tests/audit/audit.py gives the verdict: PASSED only when every package was looked up; NOT AUDITED
# or INCOMPLETE when the feed (or a package) could not be: a failure here, a warning in `make test`.
AUDIT_UNAUDITED ?= fail
audit: $(APP_STAMP)
	@if grep -nvE '^[[:space:]]*(#.*)?$$|^[[:space:]]*[A-Za-z0-9_.:-]+[[:space:]]+#[[:space:]]*[^[:space:]]' $(AUDIT_IGNORE); then \
	    echo "$(AUDIT_IGNORE): each line above needs an advisory id and '# reason'" >&2; exit 1; fi
	$(VENV)/bin/python -m tests.audit.audit --unaudited $(AUDIT_UNAUDITED) -- --skip-editable --timeout 30 \
	    $(addprefix --ignore-vuln ,$(shell sed -e 's/#.*//' $(AUDIT_IGNORE)))

# build: the layer (requirements + bakery_gateway in python/) and the functions, into .aws-sam/build.
# No container: needs python3.11 on PATH, and builds the x86_64 wheels the template asks for.
# The functions' folders hold their handlers only (their dependencies are the layer's), so SAM says
# "requirements.txt file not found" once per function: the note after the build says why.
build: venv
	$(SAM) build
	@echo "Note: 'requirements.txt file not found' above is expected, once per function: the functions'"
	@echo "      dependencies ship in the shared layer (layers/shared/requirements.txt), built first."

# ensure-redis: the tests start their own redis-server when none answers; this makes sure there is one.
ensure-redis:
	command -v redis-server >/dev/null || { $(APT_GET) update && $(APT_GET) install -y redis-server; }

# ensure-pushgateway: Debian's Prometheus Pushgateway, which the metrics export tests start on a free port
# (apt's policy keeps the package's own service from starting).
ensure-pushgateway:
	test -x /usr/bin/prometheus-pushgateway || { $(APT_GET) update && $(APT_GET) install -y prometheus-pushgateway; }

# ensure-chromium: Debian's Chromium for the browser tests (playwright drives it; never `playwright install`).
# Headless needs the browser and its libraries only: without the recommended desktop packages (printer
# helpers, avahi, upower, fonts, systemd upgrades) it is ~25 packages instead of ~114.
ensure-chromium:
	test -x /usr/bin/chromium || { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends chromium; }

# ensure-docker: Debian's Docker and debootstrap, for `sam local` (make sam-local, tests/sam_local): dockerd
# is started by them when it is not running, and the stand-in Lambda image built with debootstrap.
ensure-docker:
	test -x /usr/sbin/dockerd && test -x /usr/sbin/debootstrap && command -v docker >/dev/null || \
	    { $(APT_GET) update && $(APT_GET) install -y docker.io debootstrap; }

# sam-local: template.yaml under `sam local start-api` on http://127.0.0.1:3000 (bakery_local.sam_local):
# Docker, the stand-in Lambda image, sam build, Redis, the development keys and sample services, the
# generated --env-vars file; Ctrl-C stops all of it. E.g. make sam-local ARGS='--port 3001'.
sam-local: $(RUN_STAMP) $(SAM_STAMP) ensure-redis ensure-docker
	$(VENV)/bin/python -m bakery_local.sam_local $(ARGS)

# test: everything CI checks, in order; pytest's own exit code decides (5 = no tests = failure).
# An advisory feed out of reach does not fail it: the audit says NOT AUDITED and the tests go on.
test: AUDIT_UNAUDITED = warn
test: venv ensure-redis ensure-pushgateway ensure-chromium ensure-docker lint audit build
	$(VENV)/bin/pytest

# deploy: the build in .aws-sam/ to one samconfig.toml environment (docs/deploy.md); CI adds
# ARGS='--no-confirm-changeset --no-fail-on-empty-changeset' once the environment's reviewers approved.
deploy: $(SAM_STAMP)
	@test -n "$(ENV)" || { echo 'make deploy ENV=dev|staging|prod' >&2; exit 2; }
	$(SAM) deploy --config-env $(ENV) $(ARGS)

# smoke: a deployed stack's health, an authenticated call (token: SMOKE_TOKEN) and the alert stream.
smoke: $(APP_STAMP)
	@test -n "$(URL)" || { echo 'make smoke URL=https://{api}.execute-api.{region}.amazonaws.com' >&2; exit 2; }
	$(VENV)/bin/python -m tests.smoke.smoke $(URL) $(ARGS)

# bench: the suite (bench/suite.py): added latency, authorizer vs RSA verify, cold starts, billed cost;
# one table per run appended to bench/results/suite.md (prints, never asserts).
bench: venv
	$(VENV)/bin/python bench/suite.py $(ARGS)

# bench-fanout: alert delivery latency to many SSE and WebSocket clients through the local runtime.
bench-fanout: venv
	$(VENV)/bin/python bench/fanout.py $(ARGS)

# ensure-wrk: Debian's wrk, the HTTP load generator of bench-throughput.
ensure-wrk:
	command -v wrk >/dev/null || { $(APT_GET) update && $(APT_GET) install -y wrk; }

# bench-throughput: requests/s of `bakery-gateway serve` (full path) against bare passthrough proxies
# with the same client (and with httpx's own transport, and plain aiohttp), all under wrk; one table per
# run appended to bench/results/throughput.md.
bench-throughput: venv ensure-redis ensure-wrk
	$(VENV)/bin/python bench/throughput.py $(ARGS)

# bench-lambda: power tuning. Each function's `sam build` output in the stand-in Lambda image under the
# CPU share of each memory size (Docker: started when not running, and stopped again); p50/p99, CPU and
# cost per invocation, a MemorySize per function; one table per run appended to bench/results/lambda_power.md.
# ARGS='--profile proxy': where a proxied invocation's CPU goes (py-spy, inside the image).
bench-lambda: venv ensure-redis ensure-docker build
	$(VENV)/bin/python bench/lambda_power.py $(ARGS)

# serve: the production server on this machine (docs/standalone.md); `make run` is the local runtime.
serve: $(RUN_STAMP)
	$(VENV)/bin/bakery-gateway serve $(ARGS)

$(LOCUST_STAMP):
	test -x $(LOCUST_VENV)/bin/python || $(PYTHON) -m venv $(LOCUST_VENV)
	$(LOCUST_VENV)/bin/pip install $(PIP) 'locust==$(LOCUST_VERSION)'
	rm -f $(LOCUST_VENV)/.installed-locust-*
	touch $@

# load: the spec's load test (tests/load/locustfile.py) headless against `bakery-gateway local`; fails
# on any unexpected status. E.g. make load ARGS='--users 60 --duration 2m'.
load: venv $(LOCUST_STAMP)
	$(VENV)/bin/python tests/load/run_load.py $(ARGS)

# clean: build output and tool caches; the virtualenvs stay (rm -rf .venv .venv-sam to rebuild them).
clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.venv -prune -o -path ./.venv-sam -prune -o -path ./.venv-checkov -prune -o -path ./.venv-locust -prune -o -name __pycache__ -type d -exec rm -rf {} +
