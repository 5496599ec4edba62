"""The stage checks catch what they are for: raw copies that disagree (events_disagree), raw rows
that stage neither kept nor dropped as a copy (raw_reconciles), an event twice in stage
(events_unique) and events whose visit stage.sessions lacks (events_have_session). Each test
breaks a real lake inside a transaction, runs the stage checks as the pipeline does and rolls
back: the rows each check returns are asserted exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from clicklake import checks, dashboard, pipeline, sources
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import connect
from clicklake.sqltext import bound

HOUR = datetime(2024, 3, 1, 12, tzinfo=UTC)
DAY, NEXT = date(2024, 3, 1), date(2024, 3, 2)
# not UTC: a row's reporting day is its minute's day in this zone (12:00 UTC is 07:00 here)
TZ = "America/New_York"


def _lake(home, fmt: str) -> tuple[duckdb.DuckDBPyConnection, object]:
    settings = load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent",
                              "CLICKLAKE_TIMEZONE": TZ})
    if fmt == "ga4":  # one export day, read by the day's first hour
        generate(settings.source_uri, datetime(2024, 3, 1, tzinfo=UTC), 24, events_per_hour=20,
                 seed=7, format="ga4")
        hour = datetime(2024, 3, 1, tzinfo=UTC)
    else:
        generate(settings.source_uri, HOUR, 1, events_per_hour=150, seed=7)
        hour = HOUR
    con = connect(settings=settings)
    summary = pipeline.run_hour(con, settings, hour)
    assert [r.name for r in summary.check_results if not r.passed] == []
    return con, settings


@pytest.fixture(scope="module")
def tracker(tmp_path_factory) -> Iterator[tuple[duckdb.DuckDBPyConnection, object]]:
    con, settings = _lake(tmp_path_factory.mktemp("tracker"), "tracker")
    yield con, settings
    con.close()


@pytest.fixture(scope="module")
def ga4(tmp_path_factory) -> Iterator[tuple[duckdb.DuckDBPyConnection, object]]:
    con, settings = _lake(tmp_path_factory.mktemp("ga4"), "ga4")
    yield con, settings
    con.close()


@pytest.fixture
def broken(request) -> Iterator[tuple[duckdb.DuckDBPyConnection, object]]:
    """The lake of the test's parameter in an open transaction, rolled back afterwards."""
    con, settings = request.getfixturevalue(request.param)
    con.execute("begin")
    try:
        yield con, settings
    finally:
        con.execute("rollback")


def found(con, settings, name: str, days: list[date]) -> list[tuple]:
    """The rows stage check `name` returns for `days` (sorted), after checking that the runner
    counts as many failing rows."""
    [check] = [c for c in checks.discover(layer="stage") if c.name == name]
    [result] = checks.evaluate(con, settings, [check], days, HOUR + timedelta(hours=1))
    params = {"days": days, "tz": settings.timezone, "first_day": min(days),
              "last_day": max(days), "sources": sources.as_json()}
    rows = sorted(con.execute(check.sql, bound(check.sql, params)).fetchall())
    assert result.failing_rows == len(rows)
    return rows


def one(con, sql: str, params=None):
    return con.execute(sql, params or {}).fetchone()


@pytest.mark.parametrize("broken", ["tracker"], indirect=True)
def test_tracker_copies_that_disagree_are_reported_and_raw_reconciles_on_each_day(broken):
    con, settings = broken
    stage_rows = one(con, "select count(*) from stage.events")[0]
    con.execute("create temp table originals as "
                "select * from raw.browser_events order by event_id limit 4")
    ids = [r[0] for r in con.execute("select event_id from originals order by 1").fetchall()]
    copy = ("insert into raw.browser_events select * replace ({}) from originals "
            "where event_id = $id")
    # three copies in two versions; a copy that differs only in its lineage (not reported); a
    # changed copy a day later (reported on the day of its first copy); one half an hour later
    con.execute(copy.format("'Changed' as browser_name"), {"id": ids[0]})
    con.execute(copy.format("_source_file || '-again' as _source_file"), {"id": ids[0]})
    con.execute(copy.format("_line_no + 1000 as _line_no, 'b2' as _batch_id"), {"id": ids[1]})
    con.execute(copy.format("event_timestamp + interval 1 day as event_timestamp, "
                            "'x' as browser_language"), {"id": ids[2]})
    con.execute(copy.format("event_timestamp + interval 30 minute as event_timestamp"),
                {"id": ids[3]})

    assert found(con, settings, "events_disagree", [DAY]) == [
        ("tracker", DAY, ids[0], 3, 2), ("tracker", DAY, ids[2], 2, 2),
        ("tracker", DAY, ids[3], 2, 2)]
    assert found(con, settings, "events_disagree", [NEXT]) == []
    # the day's copies are duplicates of a kept event; the later copy is another day's row
    assert found(con, settings, "raw_reconciles", [DAY]) == []
    assert found(con, settings, "raw_reconciles", [DAY, NEXT]) == [("tracker", NEXT, 1, 0, 0)]
    con.execute("delete from stage.events where event_id = $id", {"id": ids[1]})
    assert found(con, settings, "raw_reconciles", [DAY]) == [
        ("tracker", DAY, stage_rows + 4, stage_rows - 1, 4)]


@pytest.mark.parametrize("broken", ["tracker", "ga4"], indirect=True)
def test_an_event_twice_in_stage_is_reported_with_its_copies(broken):
    con, settings = broken
    fmt, twice, thrice = one(con, "select any_value(source_format), min(event_id), "
                                  "max(event_id) from stage.events")
    for event_id in (twice, thrice, thrice):
        con.execute("insert into stage.events select * from stage.events "
                    "where event_id = $id limit 1", {"id": event_id})
    assert found(con, settings, "events_unique", [DAY]) == [(fmt, twice, 2), (fmt, thrice, 3)]


@pytest.mark.parametrize("broken", ["tracker", "ga4"], indirect=True)
def test_every_event_of_a_visit_stage_sessions_lacks_is_reported(broken):
    con, settings = broken
    session = one(con, "select session_id from stage.events where session_id is not null "
                       "group by all having count(*) > 1 order by all limit 1")[0]
    con.execute("delete from stage.sessions where session_id = $s", {"s": session})
    want = sorted(con.execute("select event_id, session_id from stage.events "
                              "where session_id = $s", {"s": session}).fetchall())
    assert len(want) > 1
    assert found(con, settings, "events_have_session", [DAY]) == want


GA4_TEXT = """concat(user_pseudo_id, '|', event_timestamp, '|', event_name, '|', stream_id, '|',
    event_bundle_sequence_id, '|', batch_event_index, '|', batch_page_id, '|',
    batch_ordering_id, '|', event_params)"""


@pytest.mark.parametrize("broken", ["ga4"], indirect=True)
def test_ga4_copies_are_rows_with_the_same_id_text_whatever_their_fields(broken):
    """A GA4 event id is the md5 of its fields joined by '|': copies are rows with the same
    text, even when a '|' inside a field or a null user_pseudo_id (written as '') makes their
    fields differ."""
    con, settings = broken
    stage_rows = one(con, "select count(*) from stage.events where event_date = $d",
                     {"d": DAY})[0]
    con.execute("create temp table original as select * from raw.ga4_events "
                "where user_pseudo_id is not null and event_timestamp >= "
                "epoch_us(timestamp '2024-03-01 12:00') order by event_timestamp limit 1")
    copy = "insert into raw.ga4_events select * replace ({}) from original"
    # one new event sent three times: a '|' moves from event_name into stream_id, and one
    # copy differs in platform too
    con.execute(copy.format("event_name || '|n2' as event_name"))
    con.execute(copy.format("'n2|' || stream_id as stream_id"))
    con.execute(copy.format("'n2|' || stream_id as stream_id, 'zz' as platform"))
    # another sent twice, once with a null user_pseudo_id and once with an empty one
    con.execute(copy.format("null as user_pseudo_id, 'other' as event_name"))
    con.execute(copy.format("'' as user_pseudo_id, 'other' as event_name"))
    ids = con.execute(f"select distinct md5({GA4_TEXT}), event_name = 'other' "
                      "from raw.ga4_events where event_name = 'other' or stream_id like 'n2|%' "
                      "order by 2").fetchall()
    [(piped, _), (empty, _)] = ids

    assert found(con, settings, "events_disagree", [DAY]) == sorted([
        ("ga4", DAY, piped, 3, 3), ("ga4", DAY, empty, 2, 2)])
    # five rows, two events stage has not seen: three of the rows are copies
    assert found(con, settings, "raw_reconciles", [DAY]) == [
        ("ga4", DAY, stage_rows + 5, stage_rows, 3)]


def test_a_check_over_every_format_reads_only_the_formats_with_data(tracker, ga4):
    """The union checks read the formats the lake has data of (as stage is built): another
    format has nothing to find, and planning a query that names one of its never-written raw
    tables costs a catalog query per column (duckdb/ducklake#1313). `found` above compares
    the runner's counts with the checks over every format."""
    union = [c for c in checks.discover() if c.union]
    assert {c.name for c in union} == {"events_disagree", "raw_reconciles"}
    for (con, _), fmt, table in ((tracker, "tracker", "raw.browser_events"),
                                 (ga4, "ga4", "raw.ga4_events")):
        assert sources.loaded(con) == {fmt}
        for check in union:
            sql = check.query(sources.loaded(con))
            others = {"raw.browser_events", "raw.ga4_events", "raw.ga_sessions"} - {table}
            assert table in sql and not any(t in sql for t in others), (fmt, check.name)
            assert all(t in check.sql for t in others)  # every format when not told which
            assert check.query(["no such format"]) is None  # nothing to read: no rows


@pytest.mark.parametrize("broken", ["tracker"], indirect=True)
def test_the_runner_and_the_history_page_never_touch_another_formats_raw_tables(broken):
    """With the GA formats' raw tables gone (inside the rolled-back transaction), the stage
    checks and the History page's files still answer on a tracker lake: neither names them."""
    con, settings = broken
    con.execute("drop table raw.ga4_events")
    con.execute("drop table raw.ga_sessions")
    results = checks.evaluate(con, settings, checks.discover(layer="stage"), [DAY],
                              HOUR + timedelta(hours=1))
    assert {r.name for r in results} >= {"events_disagree", "raw_reconciles"}
    assert [r.name for r in results if not r.passed] == []
    files = dashboard.day_history(con, DAY, settings.timezone).files
    assert len(files) > 0 and files["raw_events"].sum() > 0
