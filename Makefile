# ClickLake — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo dashboard notebook airflow celery test check lint venv postgres redis chromium clean bench bench-scale

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

# Airflow 3 standalone (scheduler, API server + UI, DAG processor, triggerer) on the embedded
# lake: AIRFLOW_HOME in .clicklake/airflow (SQLite metadata DB), DAGs from airflow/dags, no
# example DAGs, and the one-slot pool `clicklake_lake` the stage/mart rebuilds take turns on.
# The admin password is made once and kept in .clicklake/airflow/passwords.json.
AIRFLOW_HOME_DIR := $(CURDIR)/.clicklake/airflow
AIRFLOW_PORT ?= 8080
AIRFLOW_PARALLELISM ?= 4
# standalone starts its components as `airflow ...` from PATH
AIRFLOW_ENV := PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) \
  AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/airflow/dags \
  AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
  AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://localhost:$(AIRFLOW_PORT)/execution/ \
  AIRFLOW__CORE__PARALLELISM=$(AIRFLOW_PARALLELISM) \
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin \
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$(AIRFLOW_HOME_DIR)/passwords.json \
  CLICKLAKE_HOME=$${CLICKLAKE_HOME:-$(CURDIR)/.clicklake}
airflow: venv  ## Airflow on the embedded lake (after `make demo`), http://localhost:8080
	@mkdir -p $(AIRFLOW_HOME_DIR)
	@test -s $(AIRFLOW_HOME_DIR)/passwords.json || $(BIN)/python -c \
	  "import json, secrets; print(json.dumps({'admin': secrets.token_urlsafe(12)}))" \
	  > $(AIRFLOW_HOME_DIR)/passwords.json
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate >/dev/null
	$(AIRFLOW_ENV) $(BIN)/airflow pools set clicklake_lake 1 "stage and mart rebuilds take turns" >/dev/null
	@echo "Airflow UI: http://localhost:$(AIRFLOW_PORT)  user: admin  password: $$($(BIN)/python -c \
	  "import json; print(json.load(open('$(AIRFLOW_HOME_DIR)/passwords.json'))['admin'])")"
	@echo "Both DAGs start paused; to run the demo day, see README (Airflow): unpause, backfill create"
	$(AIRFLOW_ENV) $(BIN)/airflow standalone

# Scale-out for real, once (not part of `make test`: about 8 minutes on two cores): Debian's
# redis-server as the broker, a private PostgreSQL cluster (Airflow's metadata DB and the lake's
# catalog), the local S3 server, the scheduler, API server, DAG processor and two Celery workers
# (CeleryExecutor); backfills a day (CELERY_HOURS=24), SIGKILLs one worker while it runs a load,
# and checks the lake against the generator's truth. Figures: test-artifacts/celery.json.
celery: venv postgres redis  ## a day through two Celery workers, one killed mid-task
	$(BIN)/python -m pytest tests/scale_out.py -q -s -p no:cacheprovider

redis:
	$(call debian_package,command -v redis-server,redis-server)

# the tests start their own PostgreSQL cluster and S3 server on free 127.0.0.1 ports
test: venv postgres chromium  ## the whole suite
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check clicklake tests streamlit airflow

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

# side-by-side benchmarks (not part of `make test`): writes BENCHMARKS.md and bench/benchmarks.png;
# BENCH_ARGS=--quick for a small run, or e.g. BENCH_ARGS="--events 500000 --reps 5"
bench: venv  ## measure load, pipeline, history and dashboard speed against the baselines
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# the 10M-event hour alone (about 10 min), merged into the last `make bench` figures
bench-scale: venv  ## measure a 10M-event hour under the shipped memory limit
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run --only scale --merge $(BENCH_ARGS)
