"""The Airflow DAGs: they parse cleanly, and running them gives the lake the CLI gives.

Airflow runs in-process (`dag.test()`) against a metadata DB in a temporary AIRFLOW_HOME; each
hour runs every real task (mapped extract and load per stream, stage, marts, checks).
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clicklake import load as load_mod
from clicklake import orchestrate, pipeline
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect
from clicklake.sources import format_of
from clicklake.sources import streams as registered_streams

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "airflow" / "dags"
H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)
HOURS = [H0, H0 + timedelta(hours=1)]
# columns that say where or when a row was loaded, not what it is
LINEAGE = {"source_file", "batch_id", "rejected_at"}
# the generated source is the tracker's
STREAMS = format_of("browser_events").streams


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """A private AIRFLOW_HOME with a migrated SQLite metadata DB; the DAG folder is the repo's."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "CLICKLAKE_RETRY_DELAY_SECONDS": "0",  # retries in dag.test() wait for real
        "CLICKLAKE_ENV_FILE": "/nonexistent",
    }
    if "airflow" in sys.modules:  # its configuration is read once, on import
        pytest.fail("airflow was imported before test_dags could point AIRFLOW_HOME at a "
                    "temporary folder", pytrace=False)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        from airflow.utils.db import initdb

        initdb()
        yield home


@pytest.fixture(scope="module")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_both_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["clickstream_hourly", "lake_maintenance"]


def test_every_task_has_an_owner_tags_retries_with_backoff_and_a_timeout(dagbag):
    for dag in dagbag.dags.values():
        assert "clicklake" in dag.tags
        assert dag.doc_md and dag.doc_md.strip().startswith(f"### {dag.dag_id}")
        for task in dag.tasks:
            assert task.owner == "clicklake", task.task_id
            assert task.retries >= 2, task.task_id
            assert task.retry_exponential_backoff >= 2, task.task_id
            assert task.execution_timeout == timedelta(minutes=30), task.task_id


def test_the_hourly_dag_covers_a_real_utc_hour_and_does_not_catch_up_by_default(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("clickstream_hourly")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is False  # unpaused, it starts with the current hour; history: backfill
    assert dag.max_active_runs == load_settings({"CLICKLAKE_ENV_FILE": "/none"}).max_active_runs
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None, restriction=_no_limit(
        dag))
    assert (info.data_interval.start, info.data_interval.end) == (H0, H0 + timedelta(hours=1))


def test_catchup_and_the_task_timeout_come_from_the_settings(tmp_path):
    probe = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("h", {str(DAGS / "clickstream_hourly.py")!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag = module.clickstream_hourly()
print(dag.catchup, {{t.execution_timeout.total_seconds() for t in dag.tasks}})
"""
    env = {**os.environ, "CLICKLAKE_ENV_FILE": "/nonexistent", "CLICKLAKE_CATCHUP": "true",
           "CLICKLAKE_TASK_TIMEOUT_MINUTES": "7", "AIRFLOW_HOME": str(tmp_path / "af")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split("\n")[-2] == "True {420.0}"


def _no_limit(dag):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)


def test_one_extract_then_a_load_per_stream_with_files_before_the_pooled_rebuilds(dagbag):
    dag = dagbag.get_dag("clickstream_hourly")
    tasks = dag.task_dict
    assert not tasks["extract"].is_mapped and tasks["load_raw"].is_mapped
    mapped_over = tasks["load_raw"].op_kwargs_expand_input.value["stream"]
    assert mapped_over.operator.task_id == "extract"  # its return value: streams with files
    assert tasks["load_raw"].upstream_task_ids == {"extract"}
    assert tasks["build_stage"].upstream_task_ids == {"load_raw"}
    assert tasks["build_marts"].upstream_task_ids == {"build_stage"}
    assert tasks["run_checks"].upstream_task_ids == {"build_stage", "build_marts"}
    rebuilds = [tasks["build_stage"], tasks["build_marts"],
                *dagbag.get_dag("lake_maintenance").tasks]
    assert {t.pool for t in rebuilds} == {"clicklake_lake"}
    assert tasks["extract"].pool != "clicklake_lake"
    outlets = {t.task_id: [a.uri for a in t.outlets] for t in tasks.values() if t.outlets}
    assert outlets == {"load_raw": ["clicklake://lake/raw"],
                       "build_marts": ["clicklake://lake/mart"]}


def test_parsing_the_dags_touches_no_lake_and_imports_nothing_heavy(tmp_path):
    home = tmp_path / "lake-that-must-not-appear"
    probe = f"""
import importlib.util, sys
for name in ("clickstream_hourly", "lake_maintenance"):
    spec = importlib.util.spec_from_file_location(name, {str(DAGS)!r} + f"/{{name}}.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(sorted(m for m in ("duckdb", "boto3", "pandas", "clicklake.lake") if m in sys.modules))
"""
    env = {**os.environ, "CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
           "AIRFLOW_HOME": str(tmp_path / "af")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
    assert not home.exists()


# --- running the hourly DAG -------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    return {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"}


def _run_dag(dagbag, dag_id: str, env: dict[str, str], logical_dates) -> list:
    """dag.test() each logical date with the CLICKLAKE_* settings of `env`; return the runs."""
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        dag = dagbag.get_dag(dag_id)
        for when in logical_dates:
            runs.append(dag.test(logical_date=when))
    return runs


def _tables(settings) -> dict[str, list[tuple]]:
    """Every raw, stage and mart table's rows (lineage columns left out), sorted."""
    con = connect(read_only=True, settings=settings)
    try:
        columns = con.execute(
            """
            select schema_name || '.' || table_name, list(column_name order by column_index)
            from duckdb_columns()
            where database_name = 'lake' and schema_name in ('raw', 'stage', 'mart')
            group by all order by 1
            """
        ).fetchall()
        out = {}
        for table, cols in columns:
            keep = [c for c in cols if not c.startswith("_") and c not in LINEAGE]
            select = ", ".join(f'"{c}"' for c in keep)
            out[table] = con.execute(f"select {select} from {table} order by all").fetchall()
        return out
    finally:
        con.close()


def _source_lines(folder: Path) -> Counter:
    """An independent count: non-empty lines per stream in the generated source files."""
    counts: Counter = Counter()
    for path in folder.rglob("*.jsonl.gz"):
        stream = path.relative_to(folder).parts[0]
        text = gzip.decompress(path.read_bytes()).decode()
        counts[stream] += sum(1 for line in text.splitlines() if line.strip())
    return counts


@pytest.fixture(scope="module")
def cli_lake(tmp_path_factory):
    """Two hours of sample traffic run through the CLI's `run_hour`: the lake to match."""
    home = tmp_path_factory.mktemp("cli-lake")
    generate(home / "source", H0, 2, events_per_hour=150, seed=7)
    settings = load_settings(_env(home))
    con = connect(settings=settings)
    try:
        for hour in HOURS:
            pipeline.run_hour(con, settings, hour)
    finally:
        con.close()
    return settings, _tables(settings)


@pytest.fixture(scope="module")
def airflow_lake(dagbag, tmp_path_factory):
    """The same two hours through clickstream_hourly, where the first try of one stream's load
    dies mid-transaction and the first try of build_marts dies after its work committed."""
    home = tmp_path_factory.mktemp("airflow-lake")
    generate(home / "source", H0, 2, events_per_hour=150, seed=7)
    real_load_file, real_build_marts = load_mod.load_file, pipeline.build_marts
    failed: list[str] = []

    def load_file_then_crash(con, stream, *args, **kwargs):
        result = real_load_file(con, stream, *args, **kwargs)
        if stream == "browser_events" and "load" not in failed:
            failed.append("load")
            raise RuntimeError("worker lost mid-load")  # rows written, not committed
        return result

    def build_marts_then_crash(*args, **kwargs):
        result = real_build_marts(*args, **kwargs)
        if "marts" not in failed:
            failed.append("marts")
            raise RuntimeError("worker lost after commit")
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(load_mod, "load_file", load_file_then_crash)
        mp.setattr(pipeline, "build_marts", build_marts_then_crash)
        runs = _run_dag(dagbag, "clickstream_hourly", _env(home), HOURS)
    assert failed == ["load", "marts"]
    return load_settings(_env(home)), runs


def test_two_airflow_hours_succeed_one_interval_each(airflow_lake):
    _, runs = airflow_lake
    assert [r.state for r in runs] == ["success", "success"]
    assert [(r.data_interval_start, r.logical_date) for r in runs] == [
        (h - timedelta(hours=1), h) for h in HOURS  # Airflow 3's manual interval; see interval()
    ]


def test_an_hour_with_nothing_new_runs_only_its_extract(dagbag, tmp_path):
    (tmp_path / "source").mkdir()
    # another hour than the other tests': dag.test() replaces a run of the same logical date
    [run] = _run_dag(dagbag, "clickstream_hourly", _env(tmp_path), [H0 + timedelta(days=30)])
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"extract": "success", "load_raw": "skipped", "build_stage": "skipped",
                      "build_marts": "skipped", "run_checks": "skipped"}
    with connect(read_only=True, settings=load_settings(_env(tmp_path))) as con:
        recorded = con.execute("select step, target, rows from ops.runs").fetchall()
    assert recorded == [("skipped", "2024-03-31T00", 1)]  # one row, not one per stream


def test_two_airflow_hours_leave_the_lake_the_cli_leaves(airflow_lake, cli_lake):
    settings, _ = airflow_lake
    _, expected = cli_lake
    got = _tables(settings)
    assert set(got) == set(expected)
    for table in expected:
        assert got[table] == expected[table], table
    assert len(got["stage.events"]) > 20 and got["mart.daily_kpis"]


def test_a_task_that_died_mid_way_was_retried_with_no_duplicate_and_no_missing_row(airflow_lake):
    settings, runs = airflow_lake
    tries = {(ti.task_id, ti.map_index): ti.try_number for ti in runs[0].get_task_instances()}
    loaded = [s for s in registered_streams() if s in STREAMS]  # the streams with files
    assert tries[("load_raw", loaded.index("browser_events"))] == 2, tries
    assert tries[("build_marts", -1)] == 2
    expected = _source_lines(settings.home / "source")
    con = connect(read_only=True, settings=settings)
    try:
        for stream in STREAMS:
            rows, distinct = con.execute(
                f"select count(*), count(distinct (_source_file, _line_no)) from raw.{stream}"
            ).fetchone()
            rejected = con.execute(
                "select count(*) from ops.rejected_rows where stream = ?", [stream]
            ).fetchone()[0]
            assert rows == distinct and rows + rejected == expected[stream], stream
        files, ledgered = con.execute(
            "select count(*), count(distinct landing_uri) from ops.load_ledger"
        ).fetchone()
        assert files == ledgered == len(list((settings.home / "source").rglob("*.jsonl.gz")))
        orders = con.execute("select sum(orders) from mart.daily_kpis").fetchone()[0]
    finally:
        con.close()
    truth = json.loads((settings.home / "source" / "truth.json").read_text())
    assert orders == sum(day["orders"] for day in truth["days"].values())


def test_lake_maintenance_changes_no_table_and_leaves_one_file_per_table(dagbag, airflow_lake):
    from clicklake.maintain import file_stats, files_per_table

    settings, _ = airflow_lake
    before = _tables(settings)
    with connect(read_only=True, settings=settings) as con:
        snapshots_before = file_stats(con, settings).snapshots
    env = {**_env(settings.home), "CLICKLAKE_SNAPSHOT_RETENTION_HOURS": "0"}
    # the retentions count back from the end of the run's data interval, the last 03:30 before
    # its logical date: a day ahead, that end follows every snapshot the lake has
    [run] = _run_dag(dagbag, "lake_maintenance", env, [datetime.now(UTC) + timedelta(days=1)])
    assert run.state == "success"
    assert _tables(settings) == before
    with connect(read_only=True, settings=settings) as con:
        assert file_stats(con, settings).snapshots < snapshots_before
        assert max(files_per_table(con).values()) == 1


# --- Postgres catalog + S3 --------------------------------------------------------------


def test_two_airflow_hours_on_postgres_and_s3_leave_the_lake_the_cli_leaves(
    dagbag, server_env, s3, cli_lake, tmp_path
):
    generate(tmp_path / "generated", H0, 2, events_per_hour=150, seed=7)
    s3.upload_folder(tmp_path / "generated", server_env["CLICKLAKE_SOURCE_URI"])
    runs = _run_dag(dagbag, "clickstream_hourly", server_env, HOURS)
    assert [r.state for r in runs] == ["success", "success"]
    _, expected = cli_lake
    got = _tables(load_settings(server_env))
    for table in expected:
        assert got[table] == expected[table], table


def test_four_concurrent_worker_processes_on_postgres_and_s3_load_every_row_once(
    server_env, s3, tmp_path
):
    generate(tmp_path / "generated", H0, 2, events_per_hour=150, seed=11, faults=["malformed"])
    s3.upload_folder(tmp_path / "generated", server_env["CLICKLAKE_SOURCE_URI"])
    settings = load_settings(server_env)
    # like four Celery workers handed the same stream's tasks at the same moment (neighbouring
    # hours' runs whose windows overlap, retries), then the next stream
    end = H0 + timedelta(hours=2)
    connect(settings=settings).close()  # the lake exists first, as `airflow-init` makes sure
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.starmap(orchestrate.extract,
                     [(s, H0, end, f"run{i}", settings) for s in STREAMS for i in range(4)],
                     chunksize=1)
        results = pool.starmap(orchestrate.load_raw,
                               [(s, f"run{i}", settings) for s in STREAMS for i in range(4)],
                               chunksize=1)
    loaded = Counter()
    for r in results:
        loaded[r["stream"]] += r["rows_loaded"]
    expected = _source_lines(tmp_path / "generated")
    con = connect(read_only=True, settings=settings)
    try:
        files, distinct = con.execute(
            "select count(*), count(distinct landing_uri) from ops.load_ledger"
        ).fetchone()
        landed, sources = con.execute(
            "select count(*), count(distinct source_uri) from ops.landed_files").fetchone()
        assert files == distinct == landed == sources == 10
        for stream in STREAMS:
            rows, unique, rejected = con.execute(
                f"""select count(*), count(distinct (_source_file, _line_no)),
                       (select count(*) from ops.rejected_rows where stream = $s)
                   from raw.{stream}""", {"s": stream}
            ).fetchone()
            assert rows == unique == loaded[stream], stream
            assert rows + rejected == expected[stream], stream
    finally:
        con.close()
