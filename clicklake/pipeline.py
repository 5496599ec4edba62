"""The hourly job: extract → load raw → transform (stage, marts) → checks, for [start, end).

Each step is a function the CLI and the Airflow tasks both call. Streams are extracted and
loaded in parallel (one DuckDB cursor per thread); transform and checks run once per hour.
Every step is recorded in `ops.runs` with its rows and seconds, failures included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import duckdb

from clicklake import checks, transform
from clicklake.config import Settings
from clicklake.extract import ExtractResult, extract_stream
from clicklake.lake import retry_transaction, transaction
from clicklake.load import LoadResult, load_stream

log = logging.getLogger("clicklake")


class ChecksFailed(RuntimeError):
    """An error-severity check failed; the message names it."""


@dataclass
class Step:
    step: str
    target: str
    rows: int
    seconds: float
    status: str = "ok"
    message: str = ""


@dataclass
class HourSummary:
    hour: datetime
    run_id: str
    steps: list[Step] = field(default_factory=list)
    extracted: dict[str, ExtractResult] = field(default_factory=dict)
    loaded: dict[str, LoadResult] = field(default_factory=dict)
    days: list[date] = field(default_factory=list)
    check_results: list[checks.CheckResult] = field(default_factory=list)


def hours(start: datetime, end: datetime) -> list[datetime]:
    """The hour starts in [start, end), in UTC."""
    start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while start < end:
        out.append(start)
        start += timedelta(hours=1)
    return out


def new_run_id(hour: datetime) -> str:
    return f"{hour:%Y%m%dT%H}-{uuid4().hex[:6]}"


def _parallel(con: duckdb.DuckDBPyConnection, settings: Settings, items, fn):
    """Run `fn(cursor, item)` for each item on a pool of threads, one cursor each."""

    def work(item):
        cur = con.cursor()
        cur.execute("use lake")  # a cursor starts on the in-memory database
        try:
            return fn(cur, item)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=min(settings.workers, len(items) or 1)) as pool:
        return list(pool.map(work, items))


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    return fn(), time.perf_counter() - t0


def extract(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    start: datetime,
    end: datetime,
    run_id: str,
    streams: tuple[str, ...] | None = None,
) -> dict[str, tuple[ExtractResult, float]]:
    """Land every stream's new source objects for [start, end), streams in parallel."""

    def one(cur, stream):
        return stream, _timed(lambda: extract_stream(cur, settings, stream, start, end, run_id))

    return dict(_parallel(con, settings, list(streams or settings.streams), one))


def load(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    streams: tuple[str, ...] | None = None,
) -> dict[str, tuple[LoadResult, float]]:
    """Load every stream's pending landed files into raw, streams in parallel."""

    def one(cur, stream):
        return stream, _timed(lambda: load_stream(cur, stream, run_id))

    return dict(_parallel(con, settings, list(streams or settings.streams), one))


def build(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, full: bool = False
) -> tuple[list[date], list[transform.ModelRun]]:
    """Rebuild stage and marts for the days the pending load batches touched (all if `full`)."""
    batches = transform.pending_batches(con)
    days = transform.all_days(con, settings) if full else transform.affected_days(
        con, batches, settings
    )
    runs = transform.run_models(con, settings, days) if (days or full) else []
    transform.mark_transformed(con, batches, run_id)
    return days, runs


def run_checks(
    con: duckdb.DuckDBPyConnection, settings: Settings, days: list[date], run_id: str
) -> list[checks.CheckResult]:
    """Run the checks over `days`; raise ChecksFailed naming any failed error-severity check."""
    results = checks.run_checks(con, settings, days, run_id)
    failed = [r for r in results if not r.passed and r.severity == "error"]
    for r in results:
        if not r.passed:
            log.warning("check %s (%s) failed: %d rows %s", r.name, r.severity, r.failing_rows,
                        r.sample)
    if failed:
        names = ", ".join(f"{r.name} ({r.failing_rows} rows)" for r in failed)
        raise ChecksFailed(f"error-severity checks failed: {names}")
    return results


def run_hour(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    hour: datetime,
    on_step: Callable[[Step], None] | None = None,
) -> HourSummary:
    """Run one hour end to end; every step is logged and recorded in `ops.runs`."""
    summary = HourSummary(hour, new_run_id(hour))
    run_id = summary.run_id
    started = datetime.now(UTC)

    def done(step: Step) -> None:
        summary.steps.append(step)
        if on_step:
            on_step(step)

    try:
        for stream, (res, secs) in extract(con, settings, hour, hour + timedelta(hours=1),
                                           run_id).items():
            summary.extracted[stream] = res
            msg = f"{len(res.landed)} files, {res.lines_invalid} invalid lines"
            if res.ignored:
                msg += f", {len(res.ignored)} unsupported files ignored"
            done(Step("extract", stream, res.lines_in, secs, message=msg))
        for stream, (res, secs) in load(con, settings, run_id).items():
            summary.loaded[stream] = res
            done(Step("load", stream, res.rows_loaded, secs,
                      message=f"{res.files} files, {res.rows_rejected} rejected"))
        (days, runs), secs = _timed(lambda: build(con, settings, run_id))
        summary.days = days
        for r in runs:
            done(Step("transform", r.name, r.rows, r.seconds))
        (results), secs = _timed(lambda: run_checks(con, settings, days, run_id))
        summary.check_results = results
        failed = sum(not r.passed for r in results)
        done(Step("checks", "all", len(results), secs, message=f"{failed} warnings"))
    except Exception as exc:
        summary.steps.append(Step("run", hour.isoformat(), 0, 0.0, "failed", str(exc)[:500]))
        raise
    finally:
        _record_steps(con, run_id, started, summary.steps)
    return summary


def _record_steps(
    con: duckdb.DuckDBPyConnection, run_id: str, started: datetime, steps: list[Step]
) -> None:
    if not steps:
        return
    now = datetime.now(UTC)
    rows = [
        (run_id, s.step, s.target, started, now, s.status, s.rows, round(s.seconds, 3), s.message)
        for s in steps
    ]

    def write() -> None:
        with transaction(con):
            con.executemany("insert into ops.runs values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    try:
        retry_transaction(write)
    except duckdb.Error as exc:  # the run's own outcome matters more than its log row
        log.error("could not record run %s in ops.runs: %s", run_id, exc)
