# ClickLake — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo dashboard notebook test check lint venv postgres chromium clean

# one environment for every README command: pipeline, Airflow, dashboard, notebooks, tests
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[apps,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv  ## generate a sample day and run it through the embedded lake
	$(BIN)/clicklake demo

# the dashboard reads (never writes) the lake the CLICKLAKE_* settings and .env point at
dashboard: venv  ## the Streamlit dashboard on the embedded lake (run `make demo` first), port 8501
	$(BIN)/streamlit run streamlit/app.py --server.port=8501 --browser.gatherUsageStats=false

# the examples in notebook/ open the lake read-only from the project's root (.clicklake, .env);
# jupysql's usage statistics and update check stay off (they would call the internet)
notebook: venv  ## Jupyter Lab on the embedded lake (run `make demo` first), port 8888
	PLOOMBER_STATS_ENABLED=false PLOOMBER_VERSION_CHECK_DISABLED=true \
	  $(BIN)/jupyter lab --ServerApp.root_dir=notebook --port=8888

# the tests start their own PostgreSQL cluster and S3 server on free 127.0.0.1 ports
test: venv postgres chromium  ## the whole suite
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check clicklake tests streamlit

check: lint test  ## ruff + the whole suite

# System packages the tests need, from Debian: PostgreSQL's server binaries (the catalog tests
# start a private cluster) and Chromium (the dashboard's browser tests). Installed when missing
# and run as root; otherwise a clear message says what to install.
# $(call debian_package,<command that succeeds when present>,<package>)
define debian_package
@$(1) >/dev/null 2>&1 || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "installing $(2) (Debian package)"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
  else echo "the tests need $(2): apt-get install $(2)" >&2; exit 1; fi; }
endef

postgres:
	$(call debian_package,ls /usr/lib/postgresql/*/bin/initdb,postgresql)

chromium:
	$(call debian_package,command -v chromium,chromium)

clean:
	rm -rf .clicklake .pytest_cache test-artifacts
