"""Data checks: `sql/checks/*.sql`, each a query returning the rows that break a rule.

A check's header names it and gives its severity (`-- severity: error` or `warn`). The runner
binds `$days` (the days the run rebuilt) and `$tz`, keeps every result in `ops.check_results`,
and reports the failed error-severity checks to the caller, which fails the run with their
names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from clicklake.config import Settings
from clicklake.lake import SQL_DIR, retry_transaction, transaction

SEVERITIES = ("error", "warn")


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    description: str
    sql: str


@dataclass(frozen=True)
class CheckResult:
    name: str
    severity: str
    failing_rows: int
    sample: str

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def discover(sql_dir: Path = SQL_DIR) -> list[Check]:
    """Every check in `sql/checks`, by name."""
    checks = []
    for path in sorted((sql_dir / "checks").glob("*.sql")):
        sql = path.read_text()
        severity = re.search(r"^--\s*severity:\s*(\w+)", sql, re.M)
        level = severity.group(1) if severity else "error"
        if level not in SEVERITIES:
            raise ValueError(f"{path}: severity must be one of {SEVERITIES}, not {level!r}")
        described = re.search(r"^--\s*checks\.\w+:\s*(.*)$", sql, re.M)
        checks.append(Check(path.stem, level, described.group(1) if described else "", sql))
    return checks


def run_checks(
    con: duckdb.DuckDBPyConnection, settings: Settings, days: list[date], run_id: str
) -> list[CheckResult]:
    """Run every check over `days`, record the results, and return them."""
    params = {"days": days, "tz": settings.timezone}
    results = []
    for check in discover():
        used = {k: v for k, v in params.items() if f"${k}" in check.sql}
        body = check.sql.rstrip().rstrip(";")
        cur = con.execute(f"select count(*) over () as _failing, * from ({body}) limit 5", used)
        names = [d[0] for d in cur.description][1:]
        rows = cur.fetchall()
        count = rows[0][0] if rows else 0
        sample = json.dumps([dict(zip(names, map(str, r[1:]), strict=True)) for r in rows])
        results.append(CheckResult(check.name, check.severity, count, sample if count else ""))
    retry_transaction(lambda: _record(con, results, run_id))
    return results


def _record(con: duckdb.DuckDBPyConnection, results: list[CheckResult], run_id: str) -> None:
    with transaction(con):
        con.executemany(
            "insert into ops.check_results values (?, ?, ?, ?, ?, ?, now())",
            [
                (run_id, r.name, r.severity, "pass" if r.passed else "fail", r.failing_rows,
                 r.sample or None)
                for r in results
            ],
        )
