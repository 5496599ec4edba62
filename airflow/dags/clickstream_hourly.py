"""
### clickstream_hourly

Every hour of tracker files, from the source bucket to the marts, for the interval
[data_interval_start, data_interval_end) in UTC:

1. **extract**: land every stream's new source objects as JSONL (streams in parallel
   threads); invalid lines are kept with their reason. It names the streams with files to load.
2. **load_raw** (one task per stream with files, in parallel): load each landed file exactly
   once into `raw.<stream>`, its rows and its ledger row in one DuckLake transaction.
3. **build_stage**: rebuild `stage.*` for the days the new load batches touched, then the
   stage checks; source folders no source format declares are named as warnings.
4. **build_marts**: rebuild `mart.*` for those days; published only if the mart checks pass,
   so a failed hour leaves yesterday's good marts readable.
5. **run_checks**: freshness and volume checks over what was published.

An hour with nothing new costs the one extract task: its loads and rebuilds are skipped.
Every task is safe to retry (and retries with exponential backoff) and is stopped after
`CLICKLAKE_TASK_TIMEOUT_MINUTES`. The rebuilds take turns through the one-slot pool
`clicklake_lake`. Scheduled runs start with the current hour (catch-up only with
`CLICKLAKE_CATCHUP=true`); history is a backfill, kept to `CLICKLAKE_MAX_ACTIVE_RUNS`:
`airflow backfill create --dag-id clickstream_hourly --from-date ... --to-date ...
--max-active-runs $CLICKLAKE_MAX_ACTIVE_RUNS`.
Settings (catalog, buckets, S3 keys) come from the `CLICKLAKE_*` environment, as for the CLI;
the work itself lives in `clicklake.orchestrate`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from clicklake.config import load_settings

SETTINGS = load_settings()
START = datetime.fromisoformat(SETTINGS.schedule_start).replace(tzinfo=UTC)
POOL = "clicklake_lake"  # one slot: stage and mart rebuilds never overlap on DuckLake
RAW = Asset(name="clicklake_raw", uri="clicklake://lake/raw")
MARTS = Asset(name="clicklake_marts", uri="clicklake://lake/mart")

DEFAULT_ARGS = {
    "owner": "clicklake",
    "retries": 3,
    "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    # a task that hangs (a lock never granted, a native crash that spins) is stopped, retried
    "execution_timeout": timedelta(minutes=SETTINGS.task_timeout_minutes),
}


def _interval(**label: str) -> tuple[datetime, datetime, str]:
    """This run's [start, end) and ClickLake run id; `label` names a mapped task in the UI."""
    from clicklake.orchestrate import interval

    context = get_current_context()
    context.update(label)  # read by map_index_template
    return interval(context)


@dag(
    dag_id="clickstream_hourly",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START,
    catchup=SETTINGS.catchup,
    max_active_runs=SETTINGS.max_active_runs,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["clicklake", "hourly"],
)
def clickstream_hourly():
    @task
    def extract() -> list[str]:
        """The streams with files to load (the counts per stream are in the log and ops.runs)."""
        from clicklake import orchestrate

        start, end, run_id = _interval()
        return orchestrate.extract_all(start, end, run_id)["to_load"]

    @task(outlets=[RAW], map_index_template="{{ stream }}")
    def load_raw(stream: str) -> dict:
        from clicklake import orchestrate

        _, _, run_id = _interval(stream=stream)
        return orchestrate.load_raw(stream, run_id)

    @task(pool=POOL)
    def build_stage(loaded: list[dict]) -> dict:
        from clicklake import orchestrate

        start, end, run_id = _interval()
        return orchestrate.build_stage(run_id, start, end)

    @task(pool=POOL, outlets=[MARTS])
    def build_marts(stage: dict) -> dict:
        from clicklake import orchestrate

        _, end, run_id = _interval()
        return orchestrate.build_marts(run_id, end, stage["days"], stage["batches"])

    @task
    def run_checks(stage: dict, marts: dict) -> dict:
        from clicklake import orchestrate

        _, end, run_id = _interval()
        return orchestrate.run_checks(run_id, end, stage["days"])

    # mapped over the streams with files: none (an empty hour) skips the loads and rebuilds
    loaded = load_raw.expand(stream=extract())
    stage = build_stage(loaded)
    run_checks(stage, build_marts(stage))


clickstream_hourly()
