# Voix: `make run` starts the whole local stack with the demo data; `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
PORT ?= 8000

.PHONY: install browser faketime sites run test lint simulate demo-data classify bench clean package deploy outbox replay-failed screenshots

$(STAMP): requirements.txt requirements-dev.txt requirements-checkov.txt
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Voix needs Python 3.11 or later (tomllib; the Lambda runtime is 3.11): PY=python3.11 make ..." >&2; exit 1; }
	@# checkov's own pins in its own venv, installed alongside the main one (about 40 s each, mostly one core)
	@mkdir -p .local
	( test -x $(CHECKOV_VENV)/bin/python || $(PY) -m venv $(CHECKOV_VENV) && \
	  $(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-checkov.txt && \
	  $(CHECKOV_VENV)/bin/python -m pip check ) > .local/checkov-install.log 2>&1 & checkov=$$!; \
	test -x $(BIN)/python || $(PY) -m venv $(VENV); \
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip && \
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt && \
	$(BIN)/python -m pip check; main=$$?; \
	wait $$checkov; status=$$?; cat .local/checkov-install.log; \
	[ $$main = 0 ] && [ $$status = 0 ]  # pins that disagree fail here, not later in a test
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the dashboard's browser tests (no browser download: Playwright drives this one).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: the browser tests will be skipped"; fi; }

# libfaketime: tests/test_clock_independence.py reruns the date-sensitive tests a year ahead and years back.
faketime:
	@command -v faketime >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; } || \
	  echo "faketime is missing and cannot be installed here: the clock-independence test will fail"

# SITES=2000: the demo's sites and generated ones (infra/sites.py) in .local/sites-$(SITES)/, read by the stack
# and by demo-data (give both the same SITES).
SITES ?=
SITES_DIR := .local/sites-$(SITES)
WITH_SITES = $(if $(SITES),VOIX_CONFIG_DIR=$(CURDIR)/$(SITES_DIR))

sites: install
	$(if $(SITES),$(BIN)/python -m infra.sites --count $(SITES) --out $(SITES_DIR))

run: install sites
	PORT=$(PORT) $(WITH_SITES) $(BIN)/python -m infra.local

# WATCH=60: then, for a minute, the customers answer the staff replies sent meanwhile (once each)
simulate: install
	PORT=$(PORT) $(BIN)/python -m infra.simulate $(if $(WATCH),--watch $(WATCH))

# What the running local stack sent (staff SMS, e-mails, End User Messaging replies), newest first, with
# the case of each; also on the dashboard server at /outbox. LIMIT= to show more than 50.
outbox: install
	$(BIN)/python -m infra.outbox --limit $${LIMIT:-50}

# the README's pictures (docs/*-en.png, *-fr.png), from a running `make run`
screenshots: install
	$(BIN)/python -m infra.screenshots

lint: install
	$(BIN)/ruff check .

# In parallel (pytest-xdist; the stack tests mostly wait, so more workers than cores pay), with a branch
# coverage report of chalicelib/ that fails under the floor in pyproject.toml. TEST_WORKERS=0: in one process.
TEST_WORKERS ?= 4
test: install lint browser faketime
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --cov --cov-report=term-missing

demo-data: install sites
	$(WITH_SITES) $(BIN)/python -m infra.demo_data --count $${COUNT:-50000} --days $${DAYS:-30}

# Every benchmark (classification, webhook path, scale, cold start, end to end, cost, the year view at 2,000,000
# messages, emerging issues) into benchmarks/RESULTS.md; about 50 to 60 minutes, most of it counting 50,000
# messages into one site-hour on moto and writing the year view's counter items (about 8 minutes)
# (RESULTS.md says how each section was last run). Not part of `make test`.
bench: install browser
	$(BIN)/python -m benchmarks.run

STAGE ?= prod

# The deployable template and zip in out/$(STAGE)/, checked by cfn-lint (see docs/deploy.md).
package: install
	$(BIN)/python -m infra.package --stage $(STAGE)
	$(BIN)/cfn-lint out/$(STAGE)/sam.yaml && echo "cfn-lint: no error, no warning"

# Deploys to the AWS account of your credentials (needs ARTIFACT_BUCKET); never run by CI.
deploy: package
	$(BIN)/python -m infra.deploy --stage $(STAGE)

# After InboundSmsFailedAlarm, once the cause is fixed: publish again the End User Messaging SMS that the
# inbound SMS function gave up on (DRY_RUN=1 only lists them; see docs/deploy.md).
replay-failed: install
	$(BIN)/python -m infra.replay_failed --stage $(STAGE) $(if $(DRY_RUN),--dry-run)

classify: install
	$(BIN)/python -m chalicelib classify --to "$(TO)" "$(TEXT)"

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache .hypothesis .coverage .coverage.* test-artifacts out
