"""Data health an operator can trust: freshness is judged by the newest events against the wall
clock (and the last successful run), per stream and by its format's cadence, on the dashboard and
in `clicklake status`; every snapshot ClickLake commits says what it is (author `clicklake`, a
commit message, extra info), so the lake's snapshot list reads as a history.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from support import build_lake, clicklake

from clicklake import dashboard, report, sources
from clicklake.config import load_settings
from clicklake.lake import connect

APP = Path(__file__).resolve().parents[1] / "streamlit" / "app.py"


def lake_env(home: Path) -> dict[str, str]:
    return {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": str(home / "no.env")}


@pytest.fixture(scope="module")
def old_lake(tmp_path_factory):
    """A lake loaded just now with events from two years ago (one hour of them)."""
    home = tmp_path_factory.mktemp("old-lake")
    settings = load_settings(lake_env(home))
    hour = (datetime.now(UTC) - timedelta(days=730)).replace(minute=0, second=0, microsecond=0)
    build_lake(settings, hour, 1, events_per_hour=80, seed=3)
    return home, settings, hour


def test_two_year_old_events_read_as_stale_right_after_a_load(old_lake, monkeypatch):
    home, settings, hour = old_lake
    con = connect(read_only=True, settings=settings)
    try:
        fresh = dashboard.freshness(con)
        status = report.status(con)["freshness per stream"]
    finally:
        con.close()
    judged = fresh[fresh["stream"] != "products"]  # optional: shown, never judged
    assert not judged.empty
    # loaded minutes ago, by a successful run: only the events' age makes it stale
    assert (judged["minutes_ago"] < 30).all()
    assert judged["last_ok_run_at"].notna().all()
    assert judged["stale"].all()
    assert set(judged["status"]) == {"stale"}
    assert (judged["events_age_hours"] > 700 * 24).all()
    assert (judged["newest_events"].dt.tz_convert(UTC) == hour).all()
    # `clicklake status` says the same
    columns, rows = status
    by_stream = {r[columns.index("stream")]: r for r in rows}
    for stream in judged["stream"]:
        assert by_stream[stream][columns.index("status")] == "stale"

    # and the page's headline card gives the data's age, not the last load's
    for name in [k for k in os.environ if k.startswith("CLICKLAKE_")]:
        monkeypatch.delenv(name)
    for name, value in lake_env(home).items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("app_pages/data_health.py").run()
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Newest events"] == "2 years old"
    assert any("is stale: newest events 2 years old" in w.value for w in at.warning)


def test_freshness_names_each_streams_format_and_judges_daily_exports_by_day(old_lake):
    _, settings, _ = old_lake
    con = connect(read_only=True, settings=settings)
    try:
        fresh = dashboard.freshness(con).set_index("stream")
    finally:
        con.close()
    for stream, row in fresh.iterrows():
        assert row["format"] == sources.format_of(stream).name == "tracker"
        assert row["expected"] == "hourly, 3 h"
    # a daily export is due a day plus its late window after its day, per the registry
    ga = {s["stream"]: s for s in json.loads(sources.as_json())}["ga_sessions"]
    assert ga["cadence"] == "daily"


def test_every_snapshot_of_a_run_and_a_maintenance_says_what_it_is(tmp_path):
    """One `clicklake run` of an hour, then `clicklake maintain`: every snapshot after the
    catalog's own first one (DuckLake's `created schema main`, made before anyone can name it)
    has author clicklake, a message and extra info."""
    done = clicklake(tmp_path, "generate", "--start", "2024-03-01", "--hours", "1",
                     "--events-per-hour", "60")
    assert done.returncode == 0, done.stderr
    done = clicklake(tmp_path, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01")
    assert done.returncode == 0, done.stderr
    done = clicklake(tmp_path, "maintain")
    assert done.returncode == 0, done.stderr
    settings = load_settings(lake_env(tmp_path) | {"CLICKLAKE_ENV_FILE": "/nonexistent"})
    con = connect(read_only=True, settings=settings)
    try:
        snaps = con.execute(
            "select snapshot_id, author, commit_message, commit_extra_info, changes "
            "from ducklake_snapshots('lake') where snapshot_id > 0 order by snapshot_id"
        ).fetchall()
        shown = dashboard.snapshots(con, 200)
    finally:
        con.close()
    assert len(snaps) > 5
    unnamed = [(s, c) for s, a, m, _, c in snaps if a != "clicklake" or not m]
    assert not unnamed, f"snapshots without a message: {unnamed}"
    assert all(json.loads(x) is not None for *_, x, _ in snaps)
    messages = " | ".join(m for _, _, m, _, _ in snaps)
    for what in ("create the lake", "extract browser_events 2024-03-01 00:00",
                 "load browser_events 2024-03-01 00:00", "stage for 2024-03-01",
                 "mart for 2024-03-01", "checks of", "run ", "maintain: "):
        assert what in messages, f"{what!r} not in {messages}"
    # the page's table: what each snapshot is, no column that is all empty
    assert not shown.empty
    assert not shown.isna().all().any(), shown.isna().all()
