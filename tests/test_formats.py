"""Several source formats in one lake: a tracker day, a GA360 export as JSON lines and a GA4
export as Parquet, side by side. Each day equals its own format's truth, and is the same as in
a lake that holds that format alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from clicklake import pipeline
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect

KPIS = ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue")
# each format's shop starts at 22:00 and runs three hours, across midnight
STARTS = {
    ("tracker", "jsonl"): datetime(2024, 3, 1, 22, tzinfo=UTC),
    ("ga360", "jsonl"): datetime(2024, 3, 4, 22, tzinfo=UTC),
    ("ga4", "parquet"): datetime(2024, 3, 7, 22, tzinfo=UTC),
}
HOURS = 3


def _lake(home, formats) -> tuple:
    """Generate each format's hours into one source and run them; return the settings, an open
    connection and the merged truth (by day)."""
    settings = load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"})
    truth: dict[str, dict] = {}
    for fmt, files in formats:
        start = STARTS[fmt, files]
        out = generate(settings.source_uri, start, HOURS, events_per_hour=250, seed=11,
                       format=fmt, file_format=files)
        truth |= out["truth"]["days"]
    con = connect(settings=settings)
    for fmt, files in formats:
        for h in range(HOURS):
            pipeline.run_hour(con, settings, STARTS[fmt, files] + timedelta(hours=h))
    return settings, con, truth


def _kpis(con) -> dict[str, dict]:
    cur = con.execute(f"select date, {', '.join(KPIS)} from mart.daily_kpis order by date")
    return {str(r[0]): dict(zip(KPIS, r[1:], strict=True)) for r in cur.fetchall()}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    settings, con, truth = _lake(tmp_path_factory.mktemp("mixed"), list(STARTS))
    yield settings, con, truth
    con.close()


def test_every_day_of_a_mixed_lake_equals_its_formats_truth(mixed):
    _, con, truth = mixed
    got = _kpis(con)
    assert sorted(got) == sorted(truth)
    for day, want in truth.items():
        for kpi in KPIS:
            expected = Decimal(str(want[kpi])) if kpi == "revenue" else want[kpi]
            assert got[day][kpi] == expected, (day, kpi)


def test_each_format_keeps_its_rows_apart_and_no_error_check_fails(mixed):
    _, con, _ = mixed
    formats = dict(con.execute(
        "select source_format, count(distinct event_date) from stage.events group by all"
    ).fetchall())
    assert formats == {"tracker": 2, "ga360": 2, "ga4": 2}
    # (warnings are expected here: the tracker's streams stop days before the GA hours run)
    failed = con.execute("select check_name, failing_rows from ops.check_results "
                         "where status <> 'pass' and severity = 'error'").fetchall()
    assert failed == []
    unread = con.execute("select count(*) from ops.runs where step = 'unread'").fetchone()[0]
    assert unread == 0


def test_a_ga_day_is_the_same_in_a_lake_that_holds_only_ga(mixed, tmp_path):
    _, con, _ = mixed
    _, alone, truth = _lake(tmp_path, [("ga360", "jsonl")])
    try:
        ga_days = sorted(truth)
        assert {d: v for d, v in _kpis(con).items() if d in ga_days} == _kpis(alone)
        sql = ("select * exclude (source_format) from stage.sessions "
               "where source_format = 'ga360' order by session_id")
        assert con.execute(sql).fetchall() == alone.execute(sql).fetchall()
    finally:
        alone.close()


def test_a_rebuild_from_raw_gives_every_format_the_same_marts(mixed):
    settings, con, truth = mixed
    before = _kpis(con)
    pipeline.rebuild(con, settings, "rebuild-mixed")
    assert _kpis(con) == before


def _check(con, name: str, run_end: datetime) -> list[tuple]:
    """The rows the check `name` returns on this lake, judged at `run_end`."""
    from clicklake import checks

    days = [r[0] for r in con.execute("select distinct event_date from stage.events").fetchall()]
    check = next(c for c in checks.discover() if c.name == name)
    settings = load_settings({"CLICKLAKE_ENV_FILE": "/nonexistent"})
    [result] = checks.evaluate(con, settings, [check], days, run_end)
    return [tuple(row.values()) for row in json.loads(result.sample or "[]")]


def test_freshness_judges_hourly_streams_by_the_hour_and_daily_exports_by_their_window(mixed):
    _, con, _ = mixed
    # the GA4 export's last day, 2024-03-08, is complete at 03-09 00:00 and may come 72 h late
    stale = {row[0] for row in _check(con, "stream_freshness", datetime(2024, 3, 8, 1, tzinfo=UTC))}
    assert stale == {"browser_events", "device_events", "geo_events", "location_events"}
    later = {row[0] for row in _check(con, "stream_freshness", datetime(2024, 3, 10, tzinfo=UTC))}
    assert "ga_sessions" in later and "ga4_events" not in later  # GA360 ended 03-05
    assert "products" not in later  # optional: exported only when the catalog changes


def test_accepted_values_are_each_formats_own(mixed):
    _, con, _ = mixed
    con.begin()
    try:
        for fmt, column, value in (("tracker", "event_type", "hover"),
                                   ("ga360", "device_type", "watch"),
                                   ("ga4", "event_type", "video_start")):  # GA4: any event name
            con.execute(f"update stage.events set {column} = ? where event_id = (select "
                        "min(event_id) from stage.events where source_format = ?)", [value, fmt])
        found = {(row[0], row[1], row[2]) for row in
                 _check(con, "accepted_values", datetime(2024, 3, 9, tzinfo=UTC))}
    finally:
        con.rollback()
    assert found == {("tracker", "event_type", "hover"), ("ga360", "device_type", "watch")}
