"""
### lake_maintenance

Once a day, keep the lake small and fast with DuckLake's own maintenance functions; no table
reads differently afterwards:

1. **compact**: flush inlined rows to Parquet, merge adjacent small files, rewrite files that
   are mostly deleted rows.
2. **expire_snapshots**: drop snapshots older than `CLICKLAKE_SNAPSHOT_RETENTION_HOURS`
   (time travel stops there).
3. **cleanup_files**: delete files no snapshot needs any more, and orphaned files a crashed
   writer left behind, once unused for that long.
4. **landing_retention**: delete landed JSONL files loaded more than
   `CLICKLAKE_LANDING_RETENTION_DAYS` days ago (the manifest keeps them from being landed
   again).

Each task logs the lake's file counts and bytes before and after. All of them go through the
one-slot pool `clicklake_lake`, so they never overlap an hourly rebuild. Retentions count back
from the end of the run's data interval. `clicklake maintain` does the same from the shell.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from clicklake.config import load_settings

SETTINGS = load_settings()
START = datetime.fromisoformat(SETTINGS.schedule_start).replace(tzinfo=UTC)
POOL = "clicklake_lake"

DEFAULT_ARGS = {
    "owner": "clicklake",
    "retries": 2,
    "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
    "execution_timeout": timedelta(minutes=SETTINGS.task_timeout_minutes),
    "pool": POOL,
}


def _step(name: str) -> dict:
    from clicklake import orchestrate

    _, end, _ = orchestrate.interval(get_current_context())
    return orchestrate.maintenance_step(name, end)


@dag(
    dag_id="lake_maintenance",
    schedule=CronDataIntervalTimetable("30 3 * * *", timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["clicklake", "maintenance"],
)
def lake_maintenance():
    @task
    def compact() -> dict:
        return _step("compact")

    @task
    def expire_snapshots() -> dict:
        return _step("expire_snapshots")

    @task
    def cleanup_files() -> dict:
        return _step("cleanup_files")

    @task
    def landing_retention() -> dict:
        return _step("landing_retention")

    compact() >> expire_snapshots() >> cleanup_files() >> landing_retention()


lake_maintenance()
