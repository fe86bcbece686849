# flink-platform: Airflow DAGs that run a Flink fraud-detection / risk-analytics platform.
# `make demo` runs the whole local lifecycle; `make test` runs lint, then the test suite.
SHELL := /bin/bash
PY_BOOT ?= python3
AIRFLOW_VENV := .venv-airflow
FLINK_VENV := .venv-flink
PY := $(AIRFLOW_VENV)/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins:$(CURDIR)/dags
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venvs jars crds java-check uitest demo lint test bench stack-up stack-down stack-status \
	airflow clean compose-check ui-screenshots

help:
	@echo "make demo          full local lifecycle end to end, with a summary"
	@echo "make lint          ruff check . (configured in ruff.toml)"
	@echo "make test          lint, then the whole test suite (starts and stops its own servers)"
	@echo "make bench         every benchmark -> bench/results/<name>.json"
	@echo "make compose-check docker-compose files: compose's loader, build contexts, COPY sources"
	@echo "make ui-screenshots  the browser test of the UI, saving docs/img/*.png"
	@echo "make stack-up | stack-down | stack-status | airflow (UI on 127.0.0.1:8080)"

$(AIRFLOW_VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PY_BOOT) -m venv $(AIRFLOW_VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(FLINK_VENV)/.installed: include/flink_jobs/requirements.txt
	test -x $(FLINK_VENV)/bin/python || $(PY_BOOT) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/python -m pip install -q -r include/flink_jobs/requirements.txt
	touch $@

# The jobs' jars (Kinesis client, S3 plugin) from Maven Central, verified against jars.lock.
jars: $(AIRFLOW_VENV)/.installed
	$(PY) -m flink_platform.local.jars install

# The operator CRD the tests validate FlinkDeployments against when operator 1.13.0's is not
# installed: Maven's newest api jar (1.10.0), jar and files pinned in include/crds/crds.lock.
crds: $(AIRFLOW_VENV)/.installed
	$(PY) -m flink_platform.crd install --fallback
	$(PY) -m flink_platform.crd verify

java-check: $(AIRFLOW_VENV)/.installed
	@$(PY) -c "from flink_platform.local.flink_dist import java_home, StackError; \
	import sys; \
	exec('try:\n java_home()\nexcept StackError as e:\n sys.exit(str(e))')"

# The browser test's driver (tests/runtime/test_browser_ui.py): playwright-core pinned in
# tools/uitest/package-lock.json, with Debian's chromium (.ci/run installs it); no browser
# download. A prerequisite of `make test`, not of `venvs` (the Astro image has no Node.js).
UITEST_DEPS := tools/uitest/node_modules/.package-lock.json
$(UITEST_DEPS): tools/uitest/package.json tools/uitest/package-lock.json
	cd tools/uitest && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

uitest: $(UITEST_DEPS)
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || echo "warning: no $${CHROMIUM:-/usr/bin/chromium}:" \
		"the browser test needs Debian's chromium (sudo apt-get install -y chromium)" >&2

venvs: $(AIRFLOW_VENV)/.installed $(FLINK_VENV)/.installed java-check jars crds

demo: venvs
	$(PY) -m flink_platform.local.demo

# ruff is pinned in requirements-dev.txt; its configuration is ruff.toml.
lint: $(AIRFLOW_VENV)/.installed
	$(AIRFLOW_VENV)/bin/ruff check .

test: lint venvs uitest
	$(PY) -m pytest tests

# The compose files as `docker compose config` loads them (compose-go, pinned in
# tools/composecheck/go.mod), plus every build context, Dockerfile and COPY source. Needs Go
# (>= 1.19); no Docker engine. Run by tests/foundation/test_compose.py, so by `make test`.
COMPOSECHECK := .tools/composecheck
$(COMPOSECHECK): $(wildcard tools/composecheck/*.go) tools/composecheck/go.mod tools/composecheck/go.sum
	cd tools/composecheck && GOFLAGS="-mod=readonly -buildvcs=false" go build -o $(CURDIR)/$@ .

compose-check: $(COMPOSECHECK)
	$(COMPOSECHECK) -C $(CURDIR) docker-compose.yaml docker-compose.override.yml

# Re-take the README's UI screenshots (docs/img/) with the browser test on the real runtime.
ui-screenshots: venvs uitest
	FLINK_PLATFORM_UI_SCREENSHOTS=$(CURDIR)/docs/img $(PY) -m pytest -q tests/runtime/test_browser_ui.py

bench: venvs
	$(PY) bench/run_all.py

stack-up: venvs
	$(PY) -m flink_platform.local.stack up

stack-down:
	$(PY) -m flink_platform.local.stack down

stack-status:
	$(PY) -m flink_platform.local.stack status

airflow: venvs
	$(PY) -m flink_platform.local.stack airflow

clean: stack-down
	rm -rf .local
