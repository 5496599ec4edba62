#!/bin/bash
# Runs once, when the postgres container starts on an empty data folder
# (/docker-entrypoint-initdb.d): Airflow's metadata database, the DuckLake catalog database and
# their roles, from init.sql. It is idempotent, so after changing a password in .env apply it with
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-clicklake.sh
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v airflow_db="$AIRFLOW_DB_NAME" \
    -v airflow_user="$AIRFLOW_DB_USER" \
    -v airflow_password="$AIRFLOW_DB_PASSWORD" \
    -v catalog_db="$CATALOG_DB_NAME" \
    -v writer_user="$CATALOG_WRITER_USER" \
    -v writer_password="$CATALOG_WRITER_PASSWORD" \
    -v reader_user="$CATALOG_READER_USER" \
    -v reader_password="$CATALOG_READER_PASSWORD" \
    -f "${INIT_SQL:-/clicklake/init.sql}"
