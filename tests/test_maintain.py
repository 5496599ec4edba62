"""Maintenance: fewer, bigger files and fewer snapshots, and no table reads differently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clicklake import maintain, pipeline
from clicklake.cli import main
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)


def _settings(home: Path, **extra: str):
    return load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
                          **extra})


def _tables(con) -> dict[str, list[tuple]]:
    names = [r[0] for r in con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where database_name = 'lake' order by 1").fetchall()]
    return {n: con.execute(f"select * from {n} order by all").fetchall() for n in names}


@pytest.fixture(scope="module")
def small_files_lake(tmp_path_factory):
    """Six hours loaded one hour at a time (a few small Parquet files per table and hour)."""
    home = tmp_path_factory.mktemp("small-files")
    settings = _settings(home)
    generate(settings.source_uri, H0, 6, events_per_hour=300, seed=3)
    con = connect(settings=settings)
    for h in range(6):
        hour = H0 + timedelta(hours=h)
        pipeline.extract(con, settings, hour, hour + timedelta(hours=1), f"h{h}")
        pipeline.load(con, settings, f"h{h}")
    pipeline.build(con, settings, "build", H0 + timedelta(hours=6))
    yield settings, con
    con.close()


def test_maintenance_merges_small_files_and_every_table_reads_the_same(small_files_lake):
    settings, con = small_files_lake
    before_rows = _tables(con)
    before = maintain.file_stats(con, settings)
    assert max(maintain.files_per_table(con).values()) >= 6

    report = maintain.maintain(con, settings, now=datetime.now(UTC) + timedelta(days=30))

    after = maintain.file_stats(con, settings)
    assert report["before"] == before.as_dict() and report["after"] == after.as_dict()
    assert after.live_files < before.live_files
    assert after.stored_files < before.stored_files
    assert max(maintain.files_per_table(con).values()) == 1
    assert after.snapshots == 1 < before.snapshots
    assert report["files_merged"] > 0 and report["old_files_deleted"] > 0
    assert _tables(con) == before_rows


@pytest.fixture
def lake(tmp_path):
    """One hour run end to end."""
    settings = _settings(tmp_path)
    generate(settings.source_uri, H0, 2, events_per_hour=200, seed=4)
    con = connect(settings=settings)
    pipeline.run_hour(con, settings, H0)
    yield settings, con
    con.close()


def test_snapshots_within_the_retention_are_kept(lake):
    settings, con = lake
    snapshots = maintain.file_stats(con, settings).snapshots
    cut = maintain.cutoffs(settings, datetime.now(UTC))["snapshots"]  # 168 hours back
    assert maintain.expire_snapshots(con, cut) == 0
    assert maintain.file_stats(con, settings).snapshots == snapshots


def test_orphaned_files_are_deleted_and_the_lake_still_reads(lake):
    settings, con = lake
    before = _tables(con)
    stray = Path(settings.data_path) / "raw" / "browser_events" / "crashed-writer.parquet"
    con.execute(f"copy (select 1 as x) to '{stray}' (format parquet)")
    later = datetime.now(UTC) + timedelta(hours=1)
    assert maintain.cleanup_files(con, later)["orphaned_files_deleted"] == 1
    assert not stray.exists()
    assert _tables(con) == before


def test_landing_retention_deletes_only_loaded_files_landed_before_the_cutoff(lake):
    settings, con = lake
    second = H0 + timedelta(hours=1)
    pipeline.extract(con, settings, second, second + timedelta(hours=1), "pending")
    landed = dict(con.execute(
        "select landing_uri, run_id = 'pending' from ops.landed_files").fetchall())
    assert maintain.apply_landing_retention(con, settings, H0)["landing_files_deleted"] == 0

    done = maintain.apply_landing_retention(con, settings, datetime.now(UTC) + timedelta(days=1))

    assert done["landing_files_deleted"] == sum(not p for p in landed.values()) > 0
    assert {uri: Path(uri).exists() for uri in landed} == landed
    loaded = pipeline.load(con, settings, "later")
    assert sum(r.files for r, _ in loaded.values()) == sum(landed.values())


def test_the_cli_prints_file_counts_before_and_after(lake, capsys, monkeypatch):
    settings, con = lake
    con.close()
    monkeypatch.setenv("CLICKLAKE_HOME", str(settings.home))
    monkeypatch.setenv("CLICKLAKE_ENV_FILE", "/nonexistent")
    assert main(["maintain"]) == 0
    err = capsys.readouterr().err
    assert "live_files" in err and "stored_bytes" in err and "->" in err


def test_a_cut_off_within_the_day_expires_only_the_snapshots_before_it(lake):
    settings, con = lake
    times = [r[0] for r in con.execute(
        "select snapshot_time from lake.snapshots() order by snapshot_id").fetchall()]
    cut = times[len(times) // 2]  # the middle snapshot's time, on the same day as the others
    older = sum(t < cut for t in times)
    assert 0 < older < len(times) - 1
    assert maintain.expire_snapshots(con, cut) == older
    left = [r[0] for r in con.execute("select snapshot_time from lake.snapshots()").fetchall()]
    assert min(left) == cut and len(left) == len(times) - older


def test_files_replaced_after_the_cut_off_are_not_deleted(tmp_path):
    settings = _settings(tmp_path)
    generate(settings.source_uri, H0, 2, events_per_hour=200, seed=4)
    con = connect(settings=settings)
    for h in range(2):
        pipeline.run_hour(con, settings, H0 + timedelta(hours=h))
    replaced_at = datetime.now(UTC)
    assert maintain.compact(con)["files_merged"] > 0  # the merged files wait for deletion
    scheduled = ("select count(*) from "
                 "__ducklake_metadata_lake.ducklake_files_scheduled_for_deletion")
    waiting = con.execute(scheduled).fetchone()[0]
    assert waiting > 0
    # a cut-off earlier the same day (or just before midnight) keeps them
    earlier = max(replaced_at - timedelta(minutes=1),
                  replaced_at.replace(hour=0, minute=0, second=0, microsecond=0))
    assert maintain.cleanup_files(con, earlier)["old_files_deleted"] == 0
    assert con.execute(scheduled).fetchone()[0] == waiting
    # a cut-off a day later deletes them
    assert maintain.cleanup_files(con, replaced_at + timedelta(days=1))["old_files_deleted"] > 0
    assert con.execute(scheduled).fetchone()[0] == 0
    con.close()
