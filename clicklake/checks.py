"""Data checks: `sql/checks/*.sql`, each a query returning the rows that break a rule.

A check's header names it, gives its severity (`-- severity: error` or `warn`) and the phase it
gates (`-- layer: stage`, `mart` or `lake`):

- `stage` checks run right after stage is rebuilt: an error keeps that run's marts unpublished;
- `mart` checks run inside the marts' own transaction: an error rolls the new marts back, so the
  previous good marts stay readable;
- `lake` checks (freshness, volume) run last, over what was published.

The runner binds `$days` (the days the run rebuilt), `$tz` (the reporting time zone) and
`$run_end` (the end of the hour being run, never `now()`, so a backfill judges each hour as it
was), keeps every result in `ops.check_results`, and fails the run naming any failed
error-severity check.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from clicklake import sources
from clicklake.config import Settings
from clicklake.lake import SQL_DIR, commit_message, retry_transaction, transaction
from clicklake.sqltext import bound, header

log = logging.getLogger(__name__)
SEVERITIES = ("error", "warn")
LAYERS = ("stage", "mart", "lake")


class ChecksFailed(RuntimeError):
    """An error-severity check failed; the message names it."""


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    layer: str
    description: str
    sql: str  # over every source format
    union: str = ""  # the units' file it reads as `source_rows` (`-- union:`), if any
    template: str = ""  # its own SQL, reading `source_rows`

    def query(self, formats: Collection[str] | None) -> str | None:
        """The check's SQL over the source formats `formats` (None: all of them); None when it
        reads the formats' rows and none of those has its file (then it finds nothing)."""
        if not self.union or formats is None:
            return self.sql
        return sources.with_union(self.template, self.union, self.name, only=formats)


@dataclass(frozen=True)
class CheckResult:
    name: str
    severity: str
    failing_rows: int
    sample: str

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def discover(sql_dir: Path = SQL_DIR, layer: str | None = None) -> list[Check]:
    """Every check in `sql/checks` (of one `layer` if given), by name. A check whose header has
    `-- union: <file>` reads `source_rows`: every source format's `<file>`, unioned, with a
    `source_format` column (see sources.union_sql). `evaluate` reads only the formats with
    data in the lake."""
    checks = []
    for path in sorted((sql_dir / "checks").glob("*.sql")):
        sql = path.read_text()
        head = header(sql)
        level = head.get("severity", "error")
        phase = head.get("layer", "stage")
        if level not in SEVERITIES:
            raise ValueError(f"{path}: severity must be one of {SEVERITIES}, not {level!r}")
        if phase not in LAYERS:
            raise ValueError(f"{path}: layer must be one of {LAYERS}, not {phase!r}")
        if phase == "stage" and re.search(r"\bmart\.", sql):
            raise ValueError(f"{path}: reads mart tables, so it needs '-- layer: mart'")
        described = re.search(r"^--\s*checks\.\w+:\s*(.*)$", sql, re.M)
        union = head.get("union", "")
        checks.append(Check(
            path.stem, level, phase, described.group(1) if described else "",
            sources.with_union(sql, union, str(path)) if union else sql, union, sql,
        ))
    return [c for c in checks if layer is None or c.layer == layer]


def evaluate(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    checks: list[Check],
    days: list[date],
    run_end: datetime,
) -> list[CheckResult]:
    """Run the checks over `days` on `con` (inside the caller's transaction, if any).

    A check that reads every source format's rows reads only the formats with data in the lake
    (`sources.loaded`, as stage is built): the others have none to find, and planning a query
    over a raw table that was never written costs a catalog query per column it names, on every
    query (DuckLake 1.5 does not cache a table's missing statistics, duckdb/ducklake#1313): the
    GA360 and GA4 parts of two checks cost 0.8 s of a 5k-event tracker hour."""
    params = {"days": days, "tz": settings.timezone, "run_end": run_end,
              "first_day": min(days) if days else None,
              "last_day": max(days) if days else None, "sources": sources.as_json()}
    formats = sources.to_read(con) if any(c.union for c in checks) else None
    results = []
    for check in checks:
        sql = check.query(formats)
        if sql is None:
            results.append(CheckResult(check.name, check.severity, 0, ""))
            continue
        used = bound(sql, params)
        body = sql.rstrip().rstrip(";")
        # the failing rows once, then their count and a sample. (`count(*) over ()` beside a
        # `limit` did both in one query, but DuckDB 1.5.5 can abort the whole process in that
        # window's finalize: "Attempted to access index 0 within vector of size 0", duckdb/duckdb
        # #22352; seen once here, in a history build.)
        con.execute(f"create or replace temp table _check_rows as {body}", used)
        try:
            count = con.execute("select count(*) from _check_rows").fetchone()[0]
            cur = con.execute("select * from _check_rows limit 5")
            names = [d[0] for d in cur.description]
            sample = json.dumps([dict(zip(names, map(str, r), strict=True))
                                 for r in cur.fetchall()])
        finally:
            con.execute("drop table if exists _check_rows")
        results.append(CheckResult(check.name, check.severity, count, sample if count else ""))
    return results


def failed_errors(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.passed and r.severity == "error"]


def raise_on_errors(results: list[CheckResult]) -> None:
    """Raise ChecksFailed naming every failed error-severity check."""
    failed = failed_errors(results)
    if failed:
        names = ", ".join(f"{r.name} ({r.failing_rows} rows)" for r in failed)
        raise ChecksFailed(f"error-severity checks failed: {names}")


def record(con: duckdb.DuckDBPyConnection, results: list[CheckResult], run_id: str) -> None:
    """Keep the results in `ops.check_results` (its own transaction, retried on conflict) and
    log every failed one, so a warning is seen where the run is watched, not only in `ops`."""
    for r in results:
        if not r.passed:
            log.warning("check %s (%s) failed: %d rows, e.g. %s", r.name, r.severity,
                        r.failing_rows, r.sample)
    if not results:
        return

    failed = [r.name for r in results if not r.passed]
    message = (f"checks of {run_id}: {len(results) - len(failed)} of {len(results)} passed"
               + (f", failed: {', '.join(failed)}" if failed else ""))

    def write() -> None:
        with transaction(con):
            commit_message(con, message, run_id=run_id, checks={
                r.name: "pass" if r.passed else f"fail ({r.failing_rows} rows)" for r in results})
            con.executemany(
                "insert into ops.check_results values (?, ?, ?, ?, ?, ?, now())",
                [
                    (run_id, r.name, r.severity, "pass" if r.passed else "fail",
                     r.failing_rows, r.sample or None)
                    for r in results
                ],
            )

    retry_transaction(write)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    days: list[date],
    run_id: str,
    layer: str,
    run_end: datetime,
) -> list[CheckResult]:
    """Run and record the checks of one layer; raise ChecksFailed if an error check failed.

    Without `days` (an hour that brought no data) only the checks that do not look at days run:
    there is nothing rebuilt to judge, and stage may not even exist yet on a fresh lake.
    """
    todo = [c for c in discover(layer=layer) if days or "$days" not in c.sql]
    results = evaluate(con, settings, todo, days, run_end)
    record(con, results, run_id)
    raise_on_errors(results)
    return results
