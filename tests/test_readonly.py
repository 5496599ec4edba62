"""A read-only connection (`clicklake query`, `status`, the dashboard, notebooks) reads the lake
and nothing else: no file written, read or attached outside the lake, no extension installed,
and no query can switch that back on. Tried on the embedded lake and on Postgres + S3."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import duckdb
import pytest
from support import build_lake

from clicklake import pipeline
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect, load_extension

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 3, 1, 9, tzinfo=UTC)

ESCAPES = {
    "copy to a file": "COPY (select 1 as x) TO '{out}/copied.csv'",
    "attach a new database file": "ATTACH '{out}/new.duckdb' AS other",
    "read a file of the machine": "select * from read_csv('/etc/passwd')",
    "list files": "select * from glob('/etc/*')",
    "install an extension": "INSTALL httpfs",
    "load an extension from a file": "LOAD '{ext}'",
    "turn external access back on": "SET enable_external_access = true",
    "unlock the configuration": "SET lock_configuration = false",
    "reset the lock": "RESET lock_configuration",
    "reset external access": "RESET enable_external_access",
    "allow more configuration": "SET allowed_configs = ['enable_external_access']",
    "allow more directories": "SET allowed_directories = ['/']",
}


def _extension_file(name: str) -> str:
    """The wheel's file of an extension the connection under test has not loaded."""
    module = importlib.import_module(f"duckdb_extension_{name}")
    return str(Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
               / f"{name}.duckdb_extension")


def _assert_escapes_fail(con: duckdb.DuckDBPyConnection, out: Path, ext: str) -> None:
    escaped = {}
    for what, sql in ESCAPES.items():
        try:
            con.execute(sql.format(out=out, ext=_extension_file(ext)))
            escaped[what] = "succeeded"
        except duckdb.Error:
            pass
    assert escaped == {}
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    home = tmp_path_factory.mktemp("lake")
    settings = load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/x"})
    summary = build_lake(settings, START, 1, events_per_hour=120, seed=8)
    return settings, summary["truth"]


def test_a_reader_of_the_embedded_lake_reads_it_whole(embedded):
    settings, truth = embedded
    con = connect(read_only=True, settings=settings)
    try:
        events = con.execute("select sum(events) from mart.daily_kpis").fetchone()[0]
        # every value of every row: the data files are read, not just their statistics
        raw = con.execute("select count(*), count(distinct event_id), "
                          "max(length(_source_file)) from raw.browser_events").fetchone()
    finally:
        con.close()
    assert events == raw[0] == raw[1] == sum(d["events"] for d in truth["days"].values())
    assert raw[2] > 0


def test_a_reader_of_the_embedded_lake_cannot_escape_it(embedded, tmp_path):
    settings, _truth = embedded
    con = connect(read_only=True, settings=settings)
    try:
        _assert_escapes_fail(con, tmp_path, "postgres_scanner")
        cur = con.cursor()  # the dashboard's and the notebooks' cursors are locked down too
        _assert_escapes_fail(cur, tmp_path, "postgres_scanner")
        cur.execute("set python_enable_replacements = false")  # what the dashboard sets
    finally:
        con.close()


def test_a_reader_cannot_write_the_lake_through_the_catalog_nor_its_data(embedded, tmp_path):
    settings, _truth = embedded
    con = connect(read_only=True, settings=settings)
    try:
        with pytest.raises(duckdb.Error):
            con.execute("delete from mart.daily_kpis")
    finally:
        con.close()


@pytest.mark.xfail(strict=True, reason=(
    "DuckDB 1.5.5's sqlite extension opens local files itself and ignores "
    "enable_external_access: a reader of a SQLite catalog can still ATTACH it read-write"))
def test_a_reader_cannot_attach_the_sqlite_catalog_again_read_write(embedded, tmp_path):
    settings, _truth = embedded
    copy = tmp_path / "catalog.sqlite"  # a copy: the real catalog must survive the attempt
    copy.write_bytes(Path(settings.ducklake_catalog().partition(":")[2]).read_bytes())
    con = connect(read_only=True, settings=settings)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(f"ATTACH 'ducklake:sqlite:{copy}' AS rw")
            con.execute("delete from rw.mart.daily_kpis")
    finally:
        con.close()


@pytest.mark.xfail(strict=True, reason=(
    "DuckDB 1.5.5: allowed_directories grants writes as well as reads, and the data path "
    "must be allowed for DuckLake to read it"))
def test_a_reader_cannot_copy_a_file_into_the_lakes_data_folder(embedded):
    settings, _truth = embedded
    con = connect(read_only=True, settings=settings)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(f"COPY (select 1) TO '{settings.data_path}/stray.csv'")
    finally:
        con.close()


def test_clicklake_query_refuses_what_the_sqlite_extension_would_do_on_its_own(embedded):
    settings, _truth = embedded
    catalog = settings.ducklake_catalog().partition(":")[2]
    env = {**os.environ, "CLICKLAKE_HOME": str(settings.home), "CLICKLAKE_ENV_FILE": "/x"}
    refused = {
        f"ATTACH 'ducklake:sqlite:{catalog}' AS rw": "only SELECT queries, not ATTACH",
        "select 1; delete from mart.daily_kpis": "only SELECT queries, not DELETE",
        f"select * from SQLite_Scan('{catalog}', 'ducklake_snapshot')": "SQLite functions",
        f"select * from sqlite_query('{catalog}', 'delete from ducklake_snapshot')":
            "SQLite functions",
        "COPY (select 1) TO '/tmp/x.csv'": "only SELECT queries, not COPY",
    }
    for sql, why in refused.items():
        done = subprocess.run([sys.executable, "-m", "clicklake.cli", "query", sql], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 1, sql
        assert why in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = subprocess.run([sys.executable, "-m", "clicklake.cli", "query",
                           "select count(*) as days from mart.daily_kpis", "--format", "csv"],
                          env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["days", "1"]


# -- Postgres catalog + S3 data -----------------------------------------------------------------


def test_a_reader_on_postgres_and_s3_reads_the_lake_and_cannot_escape_it(
    server_env, s3, tmp_path
):
    settings = load_settings(server_env)
    summary = generate(tmp_path / "source", START, 1, events_per_hour=60, seed=9)
    s3.upload_folder(tmp_path / "source", settings.source_uri)
    writer = connect(settings=settings)
    try:
        pipeline.run_hour(writer, settings, START)
    finally:
        writer.close()
    con = connect(read_only=True, settings=settings)
    try:
        raw = con.execute("select count(*), count(distinct event_id) from raw.browser_events"
                          ).fetchone()
        assert raw[0] == raw[1] == sum(d["events"] for d in summary["truth"]["days"].values())
        out = tmp_path / "out"
        out.mkdir()
        _assert_escapes_fail(con, out, "sqlite_scanner")
        with pytest.raises(duckdb.Error):
            con.execute(f"ATTACH 'ducklake:{settings.ducklake_catalog()}' AS rw")
            con.execute("delete from rw.mart.daily_kpis")
    finally:
        con.close()


def test_the_catalogs_reader_role_cannot_write_it_even_attached_read_write(postgres, s3):
    suffix = uuid4().hex[:6]
    names = {
        "AIRFLOW_DB_NAME": f"airflow_{suffix}", "AIRFLOW_DB_USER": f"airflow_{suffix}",
        "AIRFLOW_DB_PASSWORD": "airflow-pw", "CATALOG_DB_NAME": f"catalog_{suffix}",
        "CATALOG_WRITER_USER": f"writer_{suffix}", "CATALOG_WRITER_PASSWORD": "writer-pw",
        "CATALOG_READER_USER": f"reader_{suffix}", "CATALOG_READER_PASSWORD": "reader-pw",
    }
    env = {**os.environ, **names, "POSTGRES_USER": postgres.user,
           "PGPASSWORD": postgres.password, "PGHOST": postgres.host, "PGPORT": str(postgres.port),
           "INIT_SQL": str(ROOT / "minio" / "postgres" / "init.sql")}
    done = subprocess.run(["bash", str(ROOT / "minio" / "postgres" / "init.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    def dsn(user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{postgres.port}/{names['CATALOG_DB_NAME']}"

    data = f"s3://{s3.new_bucket('lake')}/lake"
    lake = {"CLICKLAKE_HOME": "/nonexistent", "CLICKLAKE_ENV_FILE": "/nonexistent",
            "CLICKLAKE_DATA_PATH": data, **s3.env()}
    writer = connect(settings=load_settings(
        {**lake, "CLICKLAKE_CATALOG": dsn(names["CATALOG_WRITER_USER"], "writer-pw")}))
    writer.execute("create table mart.probe as select 42 as answer")
    writer.close()

    # the reader's own DuckDB, not locked down, attaching the catalog read-write on purpose
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    for name in ("ducklake", "postgres_scanner", "httpfs"):
        load_extension(con, name)
    reader = dsn(names["CATALOG_READER_USER"], "reader-pw")
    try:
        con.execute(f"ATTACH 'ducklake:postgres:{reader}' AS rw (DATA_PATH '{data}/')")
        with pytest.raises(duckdb.Error, match="(?i)permission denied"):
            con.execute("insert into rw.mart.probe values (7)")
        with pytest.raises(duckdb.Error, match="(?i)permission denied"):
            con.execute("drop table rw.mart.probe")
    finally:
        con.close()
