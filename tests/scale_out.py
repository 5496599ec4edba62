"""Airflow for real, in processes: the scheduler, the DAG processor and the API server (which
the task processes report to) with a private AIRFLOW_HOME and a Postgres metadata database,
running the repository's DAGs on a lake given by CLICKLAKE_* settings.

`tests/test_scheduler.py` runs it with the LocalExecutor; this file's own test (not collected
by a plain `pytest`, run by `make celery`) runs it with the CeleryExecutor, a Redis broker
and two Celery workers, and kills one of them mid-task.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from secrets import token_urlsafe

import pytest
from support import free_port, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "airflow" / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "clickstream_hourly"
KPIS = ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue")
FINISHED = {"success", "failed"}


class Airflow:
    """One Airflow installation in `home`: run its CLI, start and stop its components, read
    its runs and task instances straight from the metadata database."""

    def __init__(self, home: Path, metadata_url: str, lake_env: dict[str, str],
                 executor: str = "LocalExecutor", parallelism: int = 4,
                 extra: dict[str, str] | None = None) -> None:
        self.home, self.metadata_url = home, metadata_url
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "CLICKLAKE_", "AWS_"))}
        self.env = base | lake_env | {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace(
                "postgresql://", "postgresql+psycopg2://", 1),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API_AUTH__JWT_SECRET": token_urlsafe(24),
            "AIRFLOW__API__SECRET_KEY": token_urlsafe(24),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # a test's worth of polling: find queued runs and tasks within a second
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "1",
        } | (extra or {})

    # -- the CLI and the components -----------------------------------------------------

    def cli(self, *args: str, timeout: float = 180) -> str:
        """Run `airflow ARGS`; return its output, or fail the test with it."""
        out = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            pytest.fail(f"airflow {' '.join(args)} exited {out.returncode}:\n"
                        f"{(out.stdout + out.stderr)[-3000:]}", pytrace=False)
        return out.stdout

    def setup(self) -> None:
        """Migrate the metadata DB, create the one-slot pool, serialize the DAGs and unpause
        the hourly one (a backfill only starts runs of an unpaused DAG)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate")
        self.cli("pools", "set", "clicklake_lake", "1", "stage and mart rebuilds take turns")
        self.cli("dags", "reserialize")
        self.cli("dags", "unpause", DAG_ID)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """Start `airflow ARGS` in the background as component `name`, its output in a log."""
        log = (self.home / f"{name}.log").open("w")
        proc = subprocess.Popen([AIRFLOW, *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_core(self) -> None:
        """The API server (tasks report to its execution API), the DAG processor, the
        scheduler."""
        api = self.start("api-server", "api-server", "--host", "127.0.0.1", "--port",
                         str(self.port), "--workers", "1")
        wait_for(f"http://127.0.0.1:{self.port}/api/v2/version", "airflow api-server", api,
                 self.home / "api-server.log", timeout=120)
        self.start("dag-processor", "dag-processor")
        self.start("scheduler", "scheduler")

    def stop(self) -> None:
        """Stop every component started, and whatever task processes they left."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            else:
                stop(proc)

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name in self.procs:
            text = (self.home / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name}.log\n{text[-chars:]}")
        return "\n".join(parts)

    def backfill(self, start: datetime, end: datetime, max_active_runs: int | None = None,
                 ) -> None:
        """`airflow backfill create` for the hours [start, end] (logical dates, both in)."""
        args = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", start.isoformat(),
                "--to-date", end.isoformat(), "--reprocess-behavior", "failed"]
        if max_active_runs:
            args += ["--max-active-runs", str(max_active_runs)]
        # one backfill per DAG at a time: the scheduler marks the last one complete soon after
        # its runs finish
        deadline = time.monotonic() + 60
        while self.query("select count(*) from backfill where dag_id = %s and completed_at is "
                         "null", [DAG_ID])[0][0] and time.monotonic() < deadline:
            time.sleep(0.5)
        self.cli(*args)

    # -- the metadata database ------------------------------------------------------------

    def query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        import psycopg2

        con = psycopg2.connect(self.metadata_url)
        try:
            with con.cursor() as cur:
                cur.execute(sql, tuple(params))
                return cur.fetchall()
        finally:
            con.close()

    def runs(self, start: datetime | None = None, end: datetime | None = None) -> list[tuple]:
        """(run_id, state, run_type, start_date, end_date) of the hourly DAG's runs, those with
        a logical date in [start, end] when given."""
        return self.query(
            "select run_id, state, run_type, start_date, end_date from dag_run where dag_id = %s"
            " and logical_date between coalesce(%s, '-infinity'::timestamptz)"
            " and coalesce(%s, 'infinity'::timestamptz) order by logical_date",
            [DAG_ID, start, end])

    def task_instances(self) -> list[tuple]:
        """(run_id, task_id, map_index, state, try_number, pid, seconds running) of the hourly
        DAG's tasks."""
        return self.query("select run_id, task_id, map_index, state, try_number, pid, "
                          "extract(epoch from now() - start_date) from task_instance "
                          "where dag_id = %s order by 1, 2, 3", [DAG_ID])

    def wait_for_runs(self, start: datetime, end: datetime, count: int, timeout: float,
                      on_poll: Callable[[], None] | None = None) -> list[tuple]:
        """Poll until the `count` runs of logical dates [start, end] have finished; fail with
        the components' logs if they do not in `timeout` seconds or a component dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(start, end)
            if len(runs) >= count and all(r[1] in FINISHED for r in runs):
                return runs
            for name, proc in self.procs.items():
                if proc.poll() is not None and name != "worker-killed":
                    pytest.fail(f"airflow {name} exited {proc.returncode}\n{self.log_tail()}",
                                pytrace=False)
            if on_poll:
                on_poll()
            time.sleep(0.2)
        pytest.fail(f"{count} runs not finished in {timeout:.0f}s: {self.runs()}\n"
                    f"{self.task_instances()}\n{self.log_tail()}", pytrace=False)


def running_runs(airflow: Airflow, backfill_only: bool = False) -> int:
    """How many runs of the hourly DAG are running right now (only backfill runs, if asked)."""
    return airflow.query("select count(*) from dag_run where dag_id = %s and state = 'running'"
                         " and (not %s or run_type = 'backfill')", [DAG_ID, backfill_only])[0][0]


def kill_running(airflow: Airflow, task_id: str, killed: list, after: float = 1.5) -> None:
    """SIGKILL the process of the first try of `task_id` once it has run `after` seconds (past
    its start-up, into its work), as the OOM killer or a lost machine would; once: `killed`
    remembers what was killed."""
    if killed:
        return
    for run_id, task, map_index, state, try_number, pid, age in airflow.task_instances():
        if (task == task_id and state == "running" and pid and try_number == 1
                and age is not None and age >= after):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append((run_id, task, map_index, pid))
            return


def descendants(pid: int) -> set[int]:
    """Every process started (directly or not) by process `pid`."""
    children: dict[int, list[int]] = {}
    for line in subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True,
                               text=True).stdout.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def kpis(settings) -> dict[str, dict]:
    """mart.daily_kpis by day, read through a read-only connection."""
    from clicklake.lake import connect

    con = connect(read_only=True, settings=settings)
    try:
        cur = con.execute(f"select date, {', '.join(KPIS)} from mart.daily_kpis order by date")
        return {str(r[0]): dict(zip(KPIS, r[1:], strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


def truth_kpis(truth: dict) -> dict[str, dict]:
    """The generator's truth in the mart's types."""
    return {day: {k: Decimal(str(v[k])) if k == "revenue" else v[k] for k in KPIS}
            for day, v in truth["days"].items()}


def rows_reconcile(settings) -> list[str]:
    """Streams whose raw rows are not each loaded once, or whose files are not each loaded
    once: an empty list when every landed file is in raw exactly once."""
    from clicklake.lake import connect

    bad = []
    con = connect(read_only=True, settings=settings)
    try:
        files, distinct = con.execute(
            "select count(*), count(distinct landing_uri) from ops.load_ledger").fetchone()
        if files != distinct:
            bad.append(f"load_ledger: {files} rows for {distinct} files")
        for stream in settings.streams:
            if not con.execute("select count(*) from duckdb_tables() where database_name = "
                               "'lake' and schema_name = 'raw' and table_name = ?",
                               [stream]).fetchone()[0]:
                continue
            rows, unique = con.execute(
                f"select count(*), count(distinct (_source_file, _line_no)) from raw.{stream}"
            ).fetchone()
            if rows != unique:
                bad.append(f"raw.{stream}: {rows} rows, {unique} distinct")
    finally:
        con.close()
    return bad


# -- `make celery`: the CeleryExecutor with two workers, one killed mid-task ----------------


def _redis(tmp: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("make celery needs Debian's redis-server: apt-get install redis-server",
                    pytrace=False)
    port = free_port()
    log = (tmp / "redis.log").open("w")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    import socket

    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    pytest.fail("redis-server did not start", pytrace=False)


def test_celery_day_with_a_worker_killed_mid_task(tmp_path, postgres, new_server_env):
    """A day backfilled through two Celery workers on the Postgres catalog and S3; one worker
    is killed (SIGKILL, with its running task) mid-way; the lake equals the truth."""
    from conftest import S3Server

    from clicklake.config import load_settings
    from clicklake.generate import generate
    from clicklake.lake import connect

    hours = int(os.environ.get("CELERY_HOURS", "24"))
    start = datetime.fromisoformat("2024-03-01T00:00:00+00:00")
    lake_env = new_server_env(tmp_path / "lake") | {
        "CLICKLAKE_RETRY_DELAY_SECONDS": "2", "CLICKLAKE_MAX_ACTIVE_RUNS": "4"}
    s3 = S3Server(lake_env["CLICKLAKE_S3_ENDPOINT"])
    summary = generate(tmp_path / "generated", start, hours, events_per_hour=300, seed=3)
    s3.upload_folder(tmp_path / "generated", lake_env["CLICKLAKE_SOURCE_URI"])
    settings = load_settings(lake_env)
    connect(settings=settings).close()  # as `clicklake init` / airflow-init does

    redis, redis_port = _redis(tmp_path)
    broker = f"redis://127.0.0.1:{redis_port}/0"
    airflow = Airflow(tmp_path / "airflow", postgres.new_database(), lake_env,
                      executor="CeleryExecutor", parallelism=8, extra={
                          "AIRFLOW__CELERY__BROKER_URL": broker,
                          "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.new_database()
                          .replace("postgresql://", "postgresql+psycopg2://", 1),
                          "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                          # a lost worker's tasks: failed (and retried) after a minute without
                          # a heartbeat, re-queued after two minutes queued
                          "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                          "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL":
                              "5",
                          "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
                      })
    t0 = time.monotonic()
    try:
        airflow.setup()
        airflow.start_core()
        for name in ("worker-1", "worker-2"):
            airflow.start(name, "celery", "worker", "--concurrency", "2",
                          "--celery-hostname", f"{name}@%h", "--skip-serve-logs")
        airflow.backfill(start, start + timedelta(hours=hours - 1), max_active_runs=4)
        killed: list = []

        def kill_worker_mid_task() -> None:
            """Once worker-2 runs a load, SIGKILL its whole process group (the worker and
            the task processes it started), as a lost machine would."""
            if killed:
                return
            busy = [ti for ti in airflow.task_instances()
                    if ti[3] == "running" and ti[1] == "load_raw" and ti[5]]
            worker = airflow.procs["worker-2"]
            if not busy or not {int(ti[5]) for ti in busy} & descendants(worker.pid):
                return
            for pid in [worker.pid, *descendants(worker.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            worker.wait()
            airflow.procs["worker-killed"] = airflow.procs.pop("worker-2")
            killed.append(time.monotonic() - t0)

        runs = airflow.wait_for_runs(start, start + timedelta(hours=hours - 1), hours,
                                     timeout=float(os.environ.get("CELERY_TIMEOUT", "3600")),
                                     on_poll=kill_worker_mid_task)
        wall = time.monotonic() - t0
        tis = airflow.task_instances()
    finally:
        airflow.stop()
        stop(redis)
    got, want = kpis(settings), truth_kpis(summary["truth"])
    figures = {
        "hours": hours, "wall_s": round(wall, 1), "runs": dict(Counter(r[1] for r in runs)),
        "tasks": len(tis), "task_states": dict(Counter(t[3] for t in tis)),
        "retried_tasks": sum(1 for t in tis if t[4] > 1),
        "worker_killed_at_s": killed[0] if killed else None,
        "lake_equals_truth": got == want, "reconcile_problems": rows_reconcile(settings),
    }
    print("CELERY FIGURES " + json.dumps(figures, default=str))
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "celery.json").write_text(json.dumps(figures, default=str,
                                                                    indent=2))
    assert killed, "worker-2 never ran a load while it was watched"
    assert all(r[1] == "success" for r in runs)
    assert got == want
    assert figures["reconcile_problems"] == []
