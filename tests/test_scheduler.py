"""clickstream_hourly under Airflow's real scheduler (LocalExecutor, four task slots), not
`dags test`: several hours backfilled at once run to completion on both catalogs and the marts
equal the generator's truth; a task process killed with SIGKILL mid-run is retried and the
lake still equals the truth; a backfill keeps to CLICKLAKE_MAX_ACTIVE_RUNS; unpaused, the DAG
does not catch up; a crash (SIGSEGV) in a task kills it instead of spinning.

One Airflow (tests/scale_out.py: API server, DAG processor, scheduler as processes, metadata DB
on the test PostgreSQL cluster) serves both lakes in turn: the tasks read their CLICKLAKE_*
settings from the env file when they run, and the test rewrites it between the two. Retries
wait a second.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scale_out import Airflow, kill_running, kpis, rows_reconcile, running_runs, truth_kpis

from clicklake.config import load_settings
from clicklake.generate import generate

H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)
HOURS = 3
MAX_ACTIVE_RUNS = 2


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, postgres):
    """Airflow running, its tasks' lake named by the env file `airflow.lake_file`."""
    tmp = tmp_path_factory.mktemp("scheduler")
    lake_file = tmp / "lake.env"
    lake_file.write_text("")
    env = {"CLICKLAKE_ENV_FILE": str(lake_file), "CLICKLAKE_RETRY_DELAY_SECONDS": "1",
           "CLICKLAKE_MAX_ACTIVE_RUNS": str(MAX_ACTIVE_RUNS)}
    af = Airflow(tmp / "airflow", postgres.new_database(), env, parallelism=4)
    af.lake_file = lake_file
    try:
        af.setup()
        af.start_core()
        yield af
    finally:
        af.stop()


def _backfill(airflow: Airflow, lake_env: dict[str, str], start: datetime,
              kill: str | None = None, timeout: float = 300) -> dict:
    """Point the tasks at `lake_env`'s lake, backfill HOURS hours from `start` as the README
    says (--max-active-runs from the setting) and wait for them; optionally SIGKILL the first
    try of task `kill` mid-run. Return the runs, task instances, peak running runs."""
    Path(airflow.lake_file).write_text("".join(f"{k}={v}\n" for k, v in lake_env.items()))
    end = start + timedelta(hours=HOURS - 1)
    t0 = time.monotonic()
    airflow.backfill(start, end, max_active_runs=MAX_ACTIVE_RUNS)
    peak, killed = [0], []

    def watch() -> None:
        peak[0] = max(peak[0], running_runs(airflow, backfill_only=True))
        if kill:
            kill_running(airflow, kill, killed)

    runs = airflow.wait_for_runs(start, end, HOURS, timeout, on_poll=watch)
    return {"runs": runs, "tis": airflow.task_instances(), "peak": peak[0], "killed": killed,
            "seconds": time.monotonic() - t0, "settings": load_settings(lake_env)}


@pytest.fixture(scope="module")
def embedded(airflow, tmp_path_factory):
    """HOURS hours on the embedded (SQLite) catalog, with one load_raw process SIGKILLed."""
    home = tmp_path_factory.mktemp("scheduler-embedded")
    summary = generate(home / "source", H0, HOURS, events_per_hour=120, seed=5)
    out = _backfill(airflow, {"CLICKLAKE_HOME": str(home)}, H0, kill="load_raw")
    return out | {"truth": summary["truth"]}


def test_backfilled_hours_on_the_embedded_catalog_equal_the_truth(embedded):
    assert [r[1:3] for r in embedded["runs"]] == [("success", "backfill")] * HOURS
    assert kpis(embedded["settings"]) == truth_kpis(embedded["truth"])
    assert rows_reconcile(embedded["settings"]) == []


def test_a_backfill_keeps_to_clicklake_max_active_runs_and_nothing_catches_up(airflow, embedded):
    assert 1 < embedded["peak"] <= MAX_ACTIVE_RUNS
    # unpaused with the default start (2024-03-01): only the hours since it was unpaused
    # (the last complete one, and the next if the clock passed an hour meanwhile) are scheduled
    scheduled = [datetime.fromisoformat(r[0].split("__")[1]) for r in airflow.runs()
                 if r[2] == "scheduled"]
    assert all(h > datetime.now(UTC) - timedelta(hours=3) for h in scheduled), scheduled


def test_a_killed_task_process_is_retried_and_the_lake_stays_exact(embedded):
    [(run_id, task, map_index, _)] = embedded["killed"]
    [retried] = [t for t in embedded["tis"] if t[:3] == (run_id, task, map_index)]
    assert retried[3] == "success" and retried[4] >= 2
    assert kpis(embedded["settings"]) == truth_kpis(embedded["truth"])
    assert rows_reconcile(embedded["settings"]) == []


def test_backfilled_hours_on_postgres_and_s3_equal_the_truth(airflow, embedded, tmp_path,
                                                             new_server_env, s3):
    start = H0 + timedelta(days=1)  # other hours than the embedded lake's backfill
    env = new_server_env(tmp_path)
    summary = generate(tmp_path / "generated", start, HOURS, events_per_hour=120, seed=6)
    s3.upload_folder(tmp_path / "generated", env["CLICKLAKE_SOURCE_URI"])
    out = _backfill(airflow, {k: v for k, v in env.items() if k != "CLICKLAKE_ENV_FILE"},
                    start)
    assert [r[1:3] for r in out["runs"]] == [("success", "backfill")] * HOURS
    assert kpis(out["settings"]) == truth_kpis(summary["truth"])
    assert rows_reconcile(out["settings"]) == []


# -- a crash in a task dies -----------------------------------------------------------------

CRASH = """
import ctypes, signal, sys
from clicklake import orchestrate
# what Airflow's DAG importer leaves behind in a task process: a Python SIGSEGV handler
signal.signal(signal.SIGSEGV, lambda signum, frame: print("segfault seen", flush=True))
if sys.argv[1] == "task":
    orchestrate.task_process()
ctypes.string_at(0)  # a NULL read, as DuckLake's crash in LoadNameMaps was
"""


def test_a_segfault_in_a_task_kills_it_instead_of_spinning():
    crashed = subprocess.run([sys.executable, "-c", CRASH, "task"], capture_output=True,
                             text=True, timeout=60)
    assert crashed.returncode == -11, crashed.stdout + crashed.stderr
    assert "Segmentation fault" in crashed.stderr  # faulthandler's stack, for the task log
    # without it the fault returns to the handler forever (at 90% system CPU)
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", CRASH, "parse"], capture_output=True, timeout=5)
