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

from clicklake import checks, sources, transform
from clicklake.config import Settings
from clicklake.extract import (
    ExtractResult,
    extract_stream,
    in_window,
    partition_of,
    unknown_streams,
)
from clicklake.lake import (
    catalog_read,
    commit_message,
    retry_transaction,
    stream_lock,
    transaction,
)
from clicklake.load import LoadResult, load_stream
from clicklake.storage import ObjectInfo, join, list_folder, list_objects

log = logging.getLogger("clicklake")


ChecksFailed = checks.ChecksFailed
# the `ops.runs` step of a source folder no format reads (a warning, not a failure)
UNREAD = "unread"


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


# the `ops.runs` step that records the hours of a range run that had nothing to do
SKIPPED = "skipped"


@dataclass
class RangePlan:
    """Which hours of a range run have work: the rest are skipped, recorded once."""

    start: datetime
    end: datetime
    todo: list[datetime]
    skipped: int
    new_objects: int
    pending: bool  # landed files not loaded yet, or loads not yet built into stage and marts


def plan_range(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: datetime, end: datetime
) -> RangePlan:
    """The hours of [start, end) that have something new, from one listing per stream.

    A source object version not yet in `ops.landed_files` is first seen by the extract of hour
    max(start, its folder's hour) (each hour's extract looks back over the lookback window and
    its format's late window), so only those hours run; the first hour also runs when earlier
    work is pending (a landed file not loaded, a load not built into stage and marts). Objects
    extract would refuse or ignore count as new: the hour runs and reports them as it always has.
    """
    every = hours(start, end)
    if not every:
        return RangePlan(start, end, [], 0, 0, False)
    start = every[0]
    landed = {tuple(r) for r in con.execute(
        "select stream, source_uri, source_etag, source_size from ops.landed_files"
    ).fetchall()}
    first_seen: set[datetime] = set()
    new_objects = 0
    for stream in settings.streams:
        for obj in listed_objects(settings, stream, start, end):
            if (stream, obj.uri, obj.etag, obj.size) in landed:
                continue
            day, hour = partition_of(obj.uri)
            folder_start = datetime(day.year, day.month, day.day, hour or 0, tzinfo=UTC)
            first_seen.add(max(start, folder_start))
            new_objects += 1
    pending = bool(transform.pending_batches(con)) or con.execute(
        "select count(*) from ops.landed_files f "
        "anti join ops.load_ledger l on l.landing_uri = f.landing_uri"
    ).fetchone()[0] > 0
    if pending:
        first_seen.add(start)
    todo = [h for h in every if h in first_seen]
    return RangePlan(start, end, todo, len(every) - len(todo), new_objects, pending)


def listed_objects(
    settings: Settings, stream: str, start: datetime, end: datetime
) -> list[ObjectInfo]:
    """`extract.source_objects` for a whole range at once: the stream's objects whose folder
    lies in [start - lookback, end), its lookback widened to its format's late window. The
    stream's `date=` folders are listed once and only the days present are read, so a range
    of empty years costs one listing, not one per day."""
    late = next((u.late_hours for u in sources.formats() if stream in u.streams), 0)
    lo = start - timedelta(hours=max(settings.lookback_hours, late))
    first, last = lo.date(), (end - timedelta(microseconds=1)).date()
    folder = join(settings.source_uri, stream)
    days, _ = list_folder(settings, folder)
    found: list[ObjectInfo] = []
    for name in days:
        if not name.startswith("date="):
            continue
        try:
            day = date.fromisoformat(name.removeprefix("date="))
        except ValueError:
            continue
        if first <= day <= last:
            found += [o for o in list_objects(settings, join(folder, name))
                      if in_window(o.uri, lo, end)]
    return found


def record_skipped(
    con: duckdb.DuckDBPyConnection, settings: Settings, plan: RangePlan,
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Record the hours of `plan` that were skipped as one run in `ops.runs` (with the source
    folders no format reads, found over the whole range, each reported once)."""
    if not plan.skipped:
        return []
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    unread = unread_streams(settings, plan.start, plan.end)
    n = plan.skipped
    span = f"{plan.start:%Y-%m-%dT%H}..{plan.end:%Y-%m-%dT%H}"
    message = (f"{n:,} hour{'s' if n != 1 else ''} with nothing new to extract, load or build: "
               "skipped")
    steps = [Step(SKIPPED, span, n, time.perf_counter() - t0, message=message), *unread]
    for step in steps:
        if on_step:
            on_step(step)
    record_steps(con, new_run_id(plan.start), started, steps)
    return steps


def _parallel(con: duckdb.DuckDBPyConnection, settings: Settings, items, fn, sizes=None):
    """Run `fn(cursor, item)` for each item on a pool of threads, one cursor each; return
    the results in the order of `items`. `sizes` (item -> expected work) start the biggest
    items first, so that the longest one never waits for a thread an empty one holds."""

    def work(item):
        cur = con.cursor()
        with catalog_read():  # a cursor starts on the in-memory database
            cur.execute("use lake")
        try:
            return fn(cur, item)
        finally:
            cur.close()

    sizes = sizes or {}
    order = sorted(range(len(items)), key=lambda i: -sizes.get(items[i], 0))
    with ThreadPoolExecutor(max_workers=min(settings.workers, len(items) or 1)) as pool:
        done = dict(zip(order, pool.map(work, [items[i] for i in order]), strict=True))
    return [done[i] for i in range(len(items))]


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
        with stream_lock(settings, f"extract-{stream}"):
            return stream, _timed(
                lambda: extract_stream(cur, settings, stream, start, end, run_id)
            )

    return dict(_parallel(con, settings, list(streams or settings.streams), one))


def load(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    streams: tuple[str, ...] | None = None,
) -> dict[str, tuple[LoadResult, float]]:
    """Load every stream's pending landed files into raw, streams in parallel."""

    def one(cur, stream):
        with stream_lock(settings, f"load-{stream}"):
            return stream, _timed(lambda: load_stream(cur, stream, run_id, settings))

    return dict(_parallel(con, settings, list(streams or settings.streams), one,
                          _pending_lines(con)))


def _pending_lines(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Lines of each stream's landed files that are not loaded yet."""
    return dict(con.execute(
        """
        select f.stream, sum(f.lines_in)::bigint
        from ops.landed_files as f
        anti join ops.load_ledger as l using (landing_uri)
        group by f.stream
        """
    ).fetchall())


def build_stage(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    run_end: datetime,
    full: bool = False,
    on_built: Callable[[transform.ModelRun], None] | None = None,
    fresh: bool = False,
) -> dict:
    """Rebuild stage for the days the pending load batches touched (every day if `full`) and
    run the stage checks, in one transaction: the checks judge exactly the raw rows the rebuild
    read, even while another hour's load commits beside it. A failed error check rolls the new
    stage back (readers keep the last good one), records the results and raises ChecksFailed
    before any mart is touched. `fresh` drops the tables first, in that transaction.

    Returns a small dict (days as ISO dates, the batches, rows and seconds per model) that
    `build_marts` takes, fit for an Airflow XCom.
    """
    batches = transform.pending_batches(con)
    if full:
        days = transform.all_days(con, settings)
    else:
        days = transform.affected_days(con, batches, settings)
    # only the formats with data: one a shop does not use costs nothing per hour
    stage = [m for m in transform.discover(only=sources.to_read(con))
             if m.schema in transform.STAGE]
    # one transaction for all of stage: readers never see half of a rebuild, and one commit
    # costs less than one per model
    runs: list[transform.ModelRun] = []
    if days or full:
        gate = checks.discover(layer="stage") if days else []

        def publish_if_clean() -> list[checks.CheckResult]:
            found = checks.evaluate(con, settings, gate, days, run_end)
            if checks.failed_errors(found):
                raise _Unpublished(found)
            return found

        try:
            runs, results = transform.build_together(
                con, stage, days, settings, gate=publish_if_clean, on_built=on_built,
                fresh=fresh)
        except _Unpublished as unpublished:  # rolled back: record why, then fail the run
            checks.record(con, unpublished.results, run_id)
            checks.raise_on_errors(unpublished.results)
            raise
        finally:
            transform.drop_private(con, stage)
        checks.record(con, results, run_id)
    return {
        "days": [d.isoformat() for d in days],
        "batches": batches,
        "models": {r.name: r.rows for r in runs},
        "seconds": {r.name: round(r.seconds, 3) for r in runs},
    }


def build_marts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    run_end: datetime,
    days: list[str],
    batches: list[str],
    on_built: Callable[[transform.ModelRun], None] | None = None,
    fresh: bool = False,
) -> dict:
    """Rebuild the marts for `days` and run the mart checks, all in one transaction (`fresh`:
    dropping the tables first, in it).

    A failed error check rolls the new marts back, so readers keep the last good ones, records
    the results and raises ChecksFailed naming the check. On success the batches are marked as
    transformed. Returns rows and seconds per model and failing rows per check.
    """
    day_list = [date.fromisoformat(d) for d in days]
    results: list[checks.CheckResult] = []
    runs: list[transform.ModelRun] = []
    if day_list or fresh:
        marts = [m for m in transform.discover() if m.schema == "mart"]
        gate = checks.discover(layer="mart")

        def publish_if_clean() -> list[checks.CheckResult]:
            found = checks.evaluate(con, settings, gate, day_list, run_end)
            if checks.failed_errors(found):
                raise _Unpublished(found)
            return found

        try:
            runs, results = transform.build_together(
                con, marts, day_list, settings, gate=publish_if_clean, on_built=on_built,
                fresh=fresh,
            )
        except _Unpublished as unpublished:  # rolled back: record why, then fail the run
            checks.record(con, unpublished.results, run_id)
            checks.raise_on_errors(unpublished.results)
            raise
        checks.record(con, results, run_id)
    transform.mark_transformed(con, batches, run_id)
    return {
        "days": days,
        "models": {r.name: r.rows for r in runs},
        "seconds": {r.name: round(r.seconds, 3) for r in runs},
        "checks": {r.name: r.failing_rows for r in results},
    }


class _Unpublished(Exception):
    """Raised inside the marts' transaction to roll it back; carries the check results."""

    def __init__(self, results: list[checks.CheckResult]):
        super().__init__("mart checks failed")
        self.results = results


def lake_checks(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    run_end: datetime,
    days: list[str],
) -> list[checks.CheckResult]:
    """Run the lake checks (freshness, volume) over what was published; record them."""
    day_list = [date.fromisoformat(d) for d in days]
    return checks.run_checks(con, settings, day_list, run_id, "lake", run_end)


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    run_end: datetime,
    full: bool = False,
    on_built: Callable[[transform.ModelRun], None] | None = None,
    fresh: bool = False,
) -> tuple[list[date], list[transform.ModelRun]]:
    """Stage, then marts, for the pending batches (every day if `full`); `on_built` hears of
    each model as it is built; `fresh` drops each layer's tables in its own transaction."""
    stage = build_stage(con, settings, run_id, run_end, full=full, on_built=on_built,
                        fresh=fresh)
    marts = build_marts(con, settings, run_id, run_end, stage["days"], stage["batches"],
                        on_built=on_built, fresh=fresh)
    runs = [
        transform.ModelRun(name, rows, part["seconds"][name])
        for part in (stage, marts)
        for name, rows in part["models"].items()
    ]
    return [date.fromisoformat(d) for d in stage["days"]], runs


def rebuild(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str
) -> list[transform.ModelRun]:
    """Recompute stage and marts from raw from scratch: every day, each table dropped and
    built again in its layer's transaction, so a rebuild that fails (a check, an error) leaves
    the previous tables for readers and for the next run."""
    _, runs = build(con, settings, run_id, datetime.now(UTC), full=True, fresh=True)
    return runs


def run_hour(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    hour: datetime,
    on_step: Callable[[Step], None] | None = None,
) -> HourSummary:
    """Run one hour end to end; every step is logged and recorded in `ops.runs`."""
    summary = HourSummary(hour, new_run_id(hour))
    run_id = summary.run_id
    end = hour + timedelta(hours=1)
    started = datetime.now(UTC)

    def done(step: Step) -> None:
        summary.steps.append(step)
        if on_step:
            on_step(step)

    try:
        for stream, (res, secs) in extract(con, settings, hour, end, run_id).items():
            summary.extracted[stream] = res
            done(extract_step(stream, res, secs))
        for step in unread_streams(settings, hour, end):
            done(step)
        for stream, (res, secs) in load(con, settings, run_id).items():
            summary.loaded[stream] = res
            done(load_step(stream, res, secs))
        def built(r: transform.ModelRun) -> None:  # shown as it happens, recorded below
            if on_step:
                on_step(model_step(r))

        days, runs = build(con, settings, run_id, end, on_built=built)
        summary.days = days
        summary.steps += [model_step(r) for r in runs]
        results, secs = _timed(
            lambda: lake_checks(con, settings, run_id, end, [d.isoformat() for d in days])
        )
        summary.check_results = results
        done(checks_step(results, secs))
    except Exception as exc:
        summary.steps.append(Step("run", hour.isoformat(), 0, 0.0, "failed", str(exc)[:500]))
        raise
    finally:
        record_steps(con, run_id, started, summary.steps)
    return summary


def extract_step(stream: str, res: ExtractResult, seconds: float) -> Step:
    """The `ops.runs` row of one stream's extract (the CLI's and Airflow's alike)."""
    msg = f"{len(res.landed)} files, {res.lines_invalid} invalid lines"
    if res.ignored:
        msg += f", {len(res.ignored)} unsupported files ignored"
    from clicklake.extract import UNDATED

    undated = [(key, why) for key, why in res.refused if why == UNDATED]
    unsafe = [(key, why) for key, why in res.refused if why != UNDATED]
    if unsafe:  # keys that could reach outside the stream's folder: named, never read
        key, why = unsafe[0]
        msg += (f", {len(unsafe)} unsafe keys refused (never read), e.g. {key!r}: {why}")
    if undated:  # no date= folder gives them an hour: named, never read
        msg += f", {len(undated)} files not read, {UNDATED}, e.g. {undated[0][0]!r}"
    return Step("extract", stream, res.lines_in, seconds, message=msg)


def load_step(stream: str, res: LoadResult, seconds: float) -> Step:
    """The `ops.runs` row of one stream's load."""
    return Step("load", stream, res.rows_loaded, seconds,
                message=f"{res.files} files, {res.rows_rejected} rejected")


def model_step(run: transform.ModelRun) -> Step:
    """The `ops.runs` row of one model's rebuild."""
    return Step("transform", run.name, run.rows, run.seconds)


def checks_step(results: list[checks.CheckResult], seconds: float) -> Step:
    """The `ops.runs` row of the lake checks."""
    failed = sum(not r.passed for r in results)
    return Step("checks", "lake", len(results), seconds, message=f"{failed} warnings")


def unread_streams(settings: Settings, start: datetime, end: datetime) -> list[Step]:
    """A warning step for each folder of the source that no source format declares, with how
    many of its files lie in the run's window: they were not read, and the user is told so
    (in the run's output, `ops.runs`, `clicklake status` and the data health page)."""
    found = unknown_streams(settings, settings.streams, start, end)
    steps = []
    for folder, files in sorted(found.items()):
        message = (f"{files} file{'s' if files != 1 else ''} in unknown stream `{folder}` "
                   f"{'were' if files != 1 else 'was'} not read: no source format declares it "
                   "(sql/sources/*/source.toml)")
        log.warning(message)
        steps.append(Step(UNREAD, folder, files, 0.0, message=message))
    return steps


def record_steps(
    con: duckdb.DuckDBPyConnection, run_id: str, started: datetime, steps: list[Step]
) -> None:
    """Keep the steps of a run in `ops.runs` (never fails the run: an error is logged)."""
    if not steps:
        return
    now = datetime.now(UTC)
    rows = [
        (run_id, s.step, s.target, started, now, s.status, s.rows, round(s.seconds, 3), s.message)
        for s in steps
    ]

    failed = [s for s in steps if s.status != "ok"]
    counts: dict[str, int] = {}
    for s in steps:
        counts[s.step] = counts.get(s.step, 0) + 1
    message = (f"run {run_id} {'failed' if failed else 'ok'}: "
               + ", ".join(f"{n} {step}" for step, n in counts.items())
               + (f"; {failed[0].message}"[:300] if failed else ""))

    def write() -> None:
        with transaction(con):
            commit_message(con, message, run_id=run_id, steps=counts,
                           failed=[f"{s.step} {s.target}" for s in failed])
            con.executemany("insert into ops.runs values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    try:
        retry_transaction(write)
    except duckdb.Error as exc:  # the run's own outcome matters more than its log row
        log.error("could not record run %s in ops.runs: %s", run_id, exc)
