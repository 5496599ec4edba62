# ClickLake — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint venv postgres clean

# one environment for every README command: pipeline, Airflow, dashboard, notebooks, tests
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[apps,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv  ## generate a sample day and run it through the embedded lake
	$(BIN)/clicklake demo

# the tests start their own PostgreSQL cluster and S3 server on free 127.0.0.1 ports
test: venv postgres  ## the whole suite
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check clicklake tests

check: lint test  ## ruff + the whole suite

# PostgreSQL's server binaries come from Debian's packages; install them when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing PostgreSQL server (Debian package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "the tests need a PostgreSQL server: apt-get install postgresql" >&2; exit 1; fi; }

clean:
	rm -rf .clicklake .pytest_cache test-artifacts
