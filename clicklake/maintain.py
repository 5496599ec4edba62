"""Maintenance: keep the lake small and fast with DuckLake's own functions.

Every hourly load and rebuild adds a few small Parquet files and a snapshot. Once a day
`maintain()` flushes inlined rows to Parquet, merges adjacent small files (and rewrites files
that are mostly deleted rows), expires snapshots older than the retention, deletes the files
DuckLake no longer needs (scheduled for deletion, or orphaned by a crashed writer), and
deletes landing files that were loaded long ago. None of it changes what any table reads.
It logs the lake's file counts and bytes before and after. Each step is its own function so
the Airflow DAG can show it as its own task; every step is safe to run again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from clicklake import storage
from clicklake.config import Settings
from clicklake.lake import commit_message, retry_transaction, transaction
from clicklake.sqltext import literal

log = logging.getLogger("clicklake.maintain")

# DuckLake keeps its catalog tables in a database named after the attached lake.
META = "__ducklake_metadata_lake"


@dataclass(frozen=True)
class FileStats:
    """How big the lake is: files the current snapshot reads, files stored, snapshots kept."""

    live_files: int
    live_bytes: int
    stored_files: int
    stored_bytes: int
    snapshots: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def file_stats(con: duckdb.DuckDBPyConnection, settings: Settings) -> FileStats:
    """Count the data files the current snapshot uses and every file stored under the data path."""
    live_files, live_bytes = con.execute(
        f"select count(*), coalesce(sum(file_size_bytes), 0)::bigint "
        f"from {META}.ducklake_data_file where end_snapshot is null"
    ).fetchone()
    stored_files, stored_bytes = _stored(settings, settings.data_path)
    snapshots = con.execute("select count(*) from ducklake_snapshots('lake')").fetchone()[0]
    return FileStats(live_files, live_bytes, stored_files, stored_bytes, snapshots)


def files_per_table(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many data files each table's current snapshot reads (inlined rows need none)."""
    return dict(
        con.execute(
            f"""
            select s.schema_name || '.' || t.table_name, count(f.data_file_id)
            from {META}.ducklake_table t
            join {META}.ducklake_schema s using (schema_id)
            left join {META}.ducklake_data_file f
                on f.table_id = t.table_id and f.end_snapshot is null
            where t.end_snapshot is null and s.end_snapshot is null
            group by all
            order by 1
            """
        ).fetchall()
    )


def _stored(settings: Settings, root: str) -> tuple[int, int]:
    """(files, bytes) below a folder or an S3 prefix, without reading any content."""
    if storage.is_s3(root):
        objects = storage.list_objects(settings, root)
        return len(objects), sum(o.size for o in objects)
    files = sizes = 0
    for folder, _, names in os.walk(root):
        for name in names:
            files += 1
            sizes += (Path(folder) / name).stat().st_size
    return files, sizes


def _call(con: duckdb.DuckDBPyConnection, sql: str,
          message: Callable[[list[tuple]], str] | None = None) -> list[tuple]:
    """Run one DuckLake maintenance CALL as its own transaction, retried on a write conflict;
    the snapshot it commits (if any) says `message(rows the CALL returned)`."""

    def attempt() -> list[tuple]:
        with transaction(con):
            rows = con.execute(sql).fetchall()
            if message is not None:
                commit_message(con, f"maintain: {message(rows)}", call=sql)
            return rows

    return retry_transaction(attempt)


def _ts(moment: datetime) -> str:
    return f"TIMESTAMPTZ {literal(moment.astimezone(UTC).isoformat())}"


def compact(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Flush inlined rows to Parquet, then merge adjacent small files and rewrite files that are
    mostly deleted rows. Returns how many rows were flushed and files merged and written."""
    flushed = _call(con, "call ducklake_flush_inlined_data('lake')", lambda rows: (
        f"flush {sum(r[2] for r in rows):,} inlined rows of {len(rows)} tables to Parquet"))
    merged = _call(con, "call ducklake_merge_adjacent_files('lake')", lambda rows: (
        f"merge {sum(r[2] for r in rows):,} small files into {sum(r[3] for r in rows):,} "
        f"({len(rows)} tables)"))
    rewritten = _call(con, "call ducklake_rewrite_data_files('lake')", lambda rows: (
        f"rewrite {sum(r[2] for r in rows):,} files with mostly deleted rows "
        f"({len(rows)} tables)"))
    return {
        "rows_flushed": sum(r[2] for r in flushed),
        "files_merged": sum(r[2] for r in merged),
        "files_written": sum(r[3] for r in merged) + sum(r[3] for r in rewritten),
        "files_rewritten": sum(r[2] for r in rewritten),
    }


def expire_snapshots(con: duckdb.DuckDBPyConnection, older_than: datetime) -> int:
    """Expire snapshots taken before `older_than` (the current one always stays); returns how
    many. Time travel cannot go further back afterwards.

    The snapshots are chosen here and expired by id: on a SQLite catalog, where a snapshot's
    time is stored as text, `ducklake_expire_snapshots(older_than => ...)` also takes every
    snapshot of the cut-off's own day, even those after it."""

    ids = [r[0] for r in con.execute(
        f"""
        select snapshot_id from lake.snapshots()
        where snapshot_time < {_ts(older_than)}
          and snapshot_id < (select max(snapshot_id) from lake.snapshots())
        """
    ).fetchall()]
    if not ids:
        return 0
    return len(_call(con, f"call ducklake_expire_snapshots('lake', versions => {ids})",
                     lambda rows: f"expire {len(rows)} snapshots taken before {older_than}"))


def cleanup_files(con: duckdb.DuckDBPyConnection, older_than: datetime) -> dict[str, int]:
    """Delete files scheduled for deletion before `older_than`, and files under the data path
    that no snapshot knows (left by a crashed writer) and are older than that.

    The cut-off protects readers still scanning a replaced file and writers that have written a
    file but not committed it yet. Files scheduled for deletion go from the start of the
    cut-off's day (UTC) back: on a SQLite catalog, where the schedule is stored as text,
    `ducklake_cleanup_old_files` takes every file of the cut-off's own day, even those
    scheduled after it, so it is given the day's start instead (a file goes a day late at
    most, never early).
    """
    day = datetime.combine(older_than.astimezone(UTC).date(), datetime.min.time(), UTC)
    before_day = day - timedelta(microseconds=1)
    old = _call(con, f"call ducklake_cleanup_old_files('lake', older_than => {_ts(before_day)})")
    orphaned = _call(
        con, f"call ducklake_delete_orphaned_files('lake', older_than => {_ts(older_than)})"
    )
    return {"old_files_deleted": len(old), "orphaned_files_deleted": len(orphaned)}


def apply_landing_retention(
    con: duckdb.DuckDBPyConnection, settings: Settings, older_than: datetime
) -> dict[str, int]:
    """Delete landed JSONL files (and their rejected-line sidecars) that are loaded into raw and
    were landed before `older_than`. The manifest keeps their rows, so they are never landed
    again; files not loaded yet are never touched."""
    candidates = con.execute(
        """
        select f.landing_uri, f.rejected_uri
        from ops.landed_files f
        semi join ops.load_ledger l on l.landing_uri = f.landing_uri
        where f.landed_at < $cutoff
        """,
        {"cutoff": older_than},
    ).fetchall()
    wanted = {uri for pair in candidates for uri in pair if uri}
    present = _present(settings, settings.landing_uri) if wanted else {}
    doomed = sorted(wanted & present.keys())
    for uri in doomed:
        storage.delete(settings, uri)
    return {"landing_files_deleted": len(doomed), "landing_bytes_deleted": sum(
        present[u] for u in doomed
    )}


def _present(settings: Settings, root: str) -> dict[str, int]:
    if storage.is_s3(root):
        return {o.uri: o.size for o in storage.list_objects(settings, root)}
    return {
        str(Path(folder) / name): (Path(folder) / name).stat().st_size
        for folder, _, names in os.walk(root)
        for name in names
    }


def cutoffs(settings: Settings, now: datetime) -> dict[str, datetime]:
    """The moments before which snapshots, unused files and loaded landing files go."""
    return {
        "snapshots": now - timedelta(hours=settings.snapshot_retention_hours),
        "landing": now - timedelta(days=settings.landing_retention_days),
    }


def maintain(
    con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime | None = None
) -> dict[str, object]:
    """Run every maintenance step in order; return and log what each did and the file counts
    and bytes before and after. `now` (default: the current time) anchors the retentions."""
    now = now or datetime.now(UTC)
    cut = cutoffs(settings, now)
    t0 = time.perf_counter()
    before = file_stats(con, settings)
    log.info("lake before maintenance: %s", before)
    report: dict[str, object] = {"before": before.as_dict()}
    report.update(compact(con))
    report["snapshots_expired"] = expire_snapshots(con, cut["snapshots"])
    report.update(cleanup_files(con, cut["snapshots"]))
    report.update(apply_landing_retention(con, settings, cut["landing"]))
    after = file_stats(con, settings)
    report["after"] = after.as_dict()
    report["seconds"] = round(time.perf_counter() - t0, 3)
    log.info("lake after maintenance: %s (%s)", after, report)
    return report
