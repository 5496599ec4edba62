"""The Airflow tasks' bodies: one function per task, each a thin call into the pipeline.

Every function opens the lake itself (a task may run in any worker process), works only on
the interval it is given (never on the clock), records its step in `ops.runs` like the CLI
does, logs its rows and seconds, and returns a small JSON-able dict for XCom: counts, days,
batch ids, never data. All of them are safe to retry: extract skips landed object versions,
load skips ledgered files, and stage and marts are rebuilt per day in whole transactions.
"""

from __future__ import annotations

import faulthandler
import hashlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb

from clicklake import load, maintain, pipeline
from clicklake.config import Settings, load_settings
from clicklake.lake import connect

log = logging.getLogger("clicklake.orchestrate")


def run_id_for(start: datetime, airflow_run_id: str) -> str:
    """The ClickLake run id of an Airflow run: its hour plus a short, stable hash of Airflow's
    run id, so every task (and every retry) of one run shares it and two runs never do."""
    digest = hashlib.sha1(airflow_run_id.encode()).hexdigest()[:6]
    return f"{start.astimezone(UTC):%Y%m%dT%H}-af{digest}"


def interval(context: Mapping) -> tuple[datetime, datetime, str]:
    """The [start, end) of an Airflow task's data interval (UTC) and the ClickLake run id.

    Scheduled and backfill runs of a `CronDataIntervalTimetable` start their interval at their
    logical date. A manual run (`airflow dags test` / `dags trigger` with a logical date) gets
    from Airflow 3 the interval that *ended* at its logical date; it is shifted to start there,
    so the run labelled 2024-03-01T00:00 always processes [00:00, 01:00), whoever started it.
    A run without an interval is refused: which hour it means would be a guess.
    """
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or end <= start:
        raise ValueError(
            "this run has no data interval: trigger it with a logical date, "
            "e.g. `airflow dags trigger clickstream_hourly --logical-date 2024-03-01T00:00:00Z`"
        )
    start, end = (datetime.fromtimestamp(t.timestamp(), UTC) for t in (start, end))
    logical = context.get("logical_date")
    if logical is not None and logical.timestamp() == end.timestamp():
        start, end = end, end + (end - start)
    return start, end, run_id_for(start, str(context.get("run_id") or start.isoformat()))


def task_process() -> None:
    """Let a crash in native code (DuckDB, DuckLake) kill the task process, so Airflow sees it
    die and retries it.

    Airflow's DAG importer leaves a Python SIGSEGV handler installed in the task process; a
    segfault then returns to the faulting instruction forever (90% system CPU, the stream's
    lock held). This puts back the default action and lets `faulthandler` print the Python
    stack to the task log first. A no-op outside the main thread."""
    try:
        for sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL):
            signal.signal(sig, signal.SIG_DFL)
    except ValueError:  # not the main thread: signal handlers cannot be changed here
        return
    try:  # dumps the stack to the task log, then the default action kills the process
        faulthandler.enable(file=sys.__stderr__)
    except (AttributeError, ValueError, RuntimeError, OSError):  # no usable stderr
        pass


@contextmanager
def _lake(settings: Settings | None) -> Iterator[tuple[duckdb.DuckDBPyConnection, Settings]]:
    task_process()
    settings = settings or load_settings()
    con = connect(settings=settings)
    try:
        yield con, settings
    finally:
        con.close()


def _step(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    step: str,
    target: str,
    fn: Callable[[], tuple[dict, list[pipeline.Step]]],
) -> dict:
    """Run `fn` (returning its XCom dict and its steps, the same `ops.runs` rows the CLI
    writes), then log and record the steps, or the failure of `step` on `target`."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        result, steps = fn()
    except Exception as exc:
        secs = time.perf_counter() - t0
        pipeline.record_steps(
            con, run_id, started,
            [pipeline.Step(step, target, 0, secs, "failed", str(exc)[:500])],
        )
        raise
    secs = time.perf_counter() - t0
    for s in steps:
        log.info("%s %s: %d rows in %.2fs %s", s.step, s.target, s.rows, s.seconds, s.message)
    pipeline.record_steps(con, run_id, started, steps)
    rows = sum(s.rows for s in steps if s.step != pipeline.UNREAD)
    return {**result, "rows": rows, "elapsed_s": round(secs, 3)}


def extract(
    stream: str, start: datetime, end: datetime, run_id: str, settings: Settings | None = None
) -> dict:
    """Land the stream's new source objects for [start, end) (plus the lookback window).

    Runs of neighbouring hours list the same objects (the lookback window), so extracts of one
    stream take turns: the second sees what the first landed and skips it."""
    settings = settings or load_settings()
    with _lake(settings) as (con, settings):

        def work():
            [(res, secs)] = pipeline.extract(con, settings, start, end, run_id, (stream,)).values()
            out = {"stream": stream, "files": len(res.landed), "skipped": res.skipped,
                   "lines_in": res.lines_in, "lines_invalid": res.lines_invalid,
                   "ignored": len(res.ignored)}
            return out, [pipeline.extract_step(stream, res, secs)]

        return _step(con, run_id, "extract", stream, work)


def extract_all(
    start: datetime, end: datetime, run_id: str, settings: Settings | None = None
) -> dict:
    """Land every stream's new source objects for [start, end) (plus the lookback window),
    streams in parallel, and say which streams have landed files waiting for a load.

    `to_load` is what the DAG maps its loads over: empty for an hour with nothing new, so
    that hour costs this one task (its loads and rebuilds are skipped). When no file waits
    but earlier loads are not yet built into stage and marts (a failed rebuild), it names one
    stream, so the run's load (a no-op) and rebuilds still happen."""
    with _lake(settings) as (con, settings):

        def work():
            results = pipeline.extract(con, settings, start, end, run_id)
            streams = {s: {"files": len(r.landed), "skipped": r.skipped, "lines_in": r.lines_in,
                           "lines_invalid": r.lines_invalid, "ignored": len(r.ignored)}
                       for s, (r, _) in results.items()}
            to_load = [s for s in settings.streams if load.pending_files(con, s)]
            if not to_load and pipeline.transform.pending_batches(con):
                to_load = list(settings.streams[:1])
            steps = [pipeline.extract_step(s, r, secs) for s, (r, secs) in results.items()]
            if not to_load and not any(r.landed or r.lines_invalid or r.ignored or r.refused
                                       for r, _ in results.values()):
                # an hour with nothing new: one `ops.runs` row, not one per stream
                steps = [pipeline.Step(pipeline.SKIPPED, f"{start:%Y-%m-%dT%H}", 1,
                                       sum(secs for _, secs in results.values()),
                                       message="1 hour with nothing new to extract, load or "
                                               "build: skipped")]
            return {"streams": streams, "to_load": to_load}, steps

        return _step(con, run_id, "extract", "all", work)


def load_raw(stream: str, run_id: str, settings: Settings | None = None) -> dict:
    """Load the stream's landed, not yet loaded files into `raw.<stream>`, each exactly once,
    even when several workers load the same stream at the same moment."""
    settings = settings or load_settings()
    with _lake(settings) as (con, settings):

        def work():
            [(res, secs)] = pipeline.load(con, settings, run_id, (stream,)).values()
            out = {"stream": stream, "batch_id": res.batch_id, "files": res.files,
                   "rows_in": res.rows_in, "rows_loaded": res.rows_loaded,
                   "rows_rejected": res.rows_rejected}
            return out, [pipeline.load_step(stream, res, secs)]

        return _step(con, run_id, "load", stream, work)


def _models(out: dict) -> list[pipeline.Step]:
    return [pipeline.model_step(pipeline.transform.ModelRun(name, rows, out["seconds"][name]))
            for name, rows in out["models"].items()]


def build_stage(
    run_id: str, start: datetime, end: datetime, settings: Settings | None = None
) -> dict:
    """Rebuild stage for the days the pending load batches touched, then its checks; say which
    source folders of [start, end) no source format reads."""
    with _lake(settings) as (con, settings):

        def work():
            out = pipeline.build_stage(con, settings, run_id, end)
            return out, pipeline.unread_streams(settings, start, end) + _models(out)

        return _step(con, run_id, "transform", "stage", work)


def build_marts(
    run_id: str, end: datetime, days: list[str], batches: list[str],
    settings: Settings | None = None,
) -> dict:
    """Rebuild the marts for `days` and publish them only if the mart checks pass."""
    with _lake(settings) as (con, settings):

        def work():
            out = pipeline.build_marts(con, settings, run_id, end, days, batches)
            return out, _models(out)

        return _step(con, run_id, "transform", "mart", work)


def run_checks(
    run_id: str, end: datetime, days: list[str], settings: Settings | None = None
) -> dict:
    """Run the lake checks (freshness, volume) over what was published."""
    with _lake(settings) as (con, settings):

        t0 = time.perf_counter()

        def work():
            results = pipeline.lake_checks(con, settings, run_id, end, days)
            failing = {r.name: r.failing_rows for r in results if not r.passed}
            return ({"checks": len(results), "failing": failing},
                    [pipeline.checks_step(results, time.perf_counter() - t0)])

        return _step(con, run_id, "checks", "lake", work)


def maintenance_step(step: str, now: datetime, settings: Settings | None = None) -> dict:
    """Run one maintenance step (`compact`, `expire_snapshots`, `cleanup_files`,
    `landing_retention`) with retentions counted back from `now`; the dict holds what it did
    and the lake's file counts and bytes before and after."""
    with _lake(settings) as (con, settings):
        cut = maintain.cutoffs(settings, now)
        steps: dict[str, Callable[[], object]] = {
            "compact": lambda: maintain.compact(con),
            "expire_snapshots": lambda: {
                "snapshots_expired": maintain.expire_snapshots(con, cut["snapshots"])
            },
            "cleanup_files": lambda: maintain.cleanup_files(con, cut["snapshots"]),
            "landing_retention": lambda: maintain.apply_landing_retention(
                con, settings, cut["landing"]
            ),
        }
        if step not in steps:
            raise ValueError(f"unknown maintenance step {step!r}: one of {', '.join(steps)}")

        t0 = time.perf_counter()

        def work():
            before = maintain.file_stats(con, settings)
            did = steps[step]()
            after = maintain.file_stats(con, settings)
            out = {"step": step, **did, "before": before.as_dict(), "after": after.as_dict()}
            message = (f"live files {before.live_files} -> {after.live_files}, "
                       f"stored files {before.stored_files} -> {after.stored_files}, "
                       f"stored bytes {before.stored_bytes} -> {after.stored_bytes}, "
                       f"snapshots {before.snapshots} -> {after.snapshots}")
            return out, [pipeline.Step("maintain", step, after.live_files,
                                       time.perf_counter() - t0, message=message)]

        return _step(con, f"maintain-{now:%Y%m%dT%H%M}", "maintain", step, work)
