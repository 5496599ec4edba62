"""Source formats as units: the registry, the conformed models built from the units, a format
added as a folder and nothing else, and source folders no format reads named to the user."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import clicklake

from clicklake import sources, transform
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import SQL_DIR

START = datetime(2024, 3, 1, tzinfo=UTC)

# A toy format: one hourly stream of page views, each line a visit's page. Its unit is all the
# project needs to read it: no Python, no other SQL file changes.
TOY = {
    "source.toml": """
description = "a toy format: one page view per line"
streams = ["toy_events"]
cadence = "hourly"
event_time = "ts"
visit_key = "visit"
[accepted]
event_type = ["pageview"]
""",
    "raw/toy_events.sql": """
create table if not exists lake.raw.toy_events (
    event_id varchar not null,
    ts timestamptz not null,
    visit varchar not null,
    visitor varchar,
    path varchar,
    _unmapped json,
    _source_file varchar not null,
    _line_no bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamptz not null,
    _source_date date not null
);
""",
    "stage/_pages.sql": """
-- the toy's lines, first-loaded copy kept: a private model, the temp table toy_pages
select * from raw.toy_events
qualify row_number() over (partition by event_id order by _loaded_at, _line_no) = 1
""",
    "stage/events.sql": """
-- stage.events (toy): one row per page view line
-- depends_on: temp.toy_pages
select
    event_id, ts as event_ts, (ts at time zone $tz)::date as event_date,
    date_trunc('hour', ts at time zone $tz) as event_hour, 'pageview' as event_type,
    true as is_pageview, visit as session_id, visitor as visitor_id,
    null as user_custom_id, null as page_url, path as page_path, null as page_type,
    null as funnel_step, null as ecommerce_action, null as product_id, null as referer_url,
    null as referer_medium, null as utm_source, null as utm_medium, null as utm_campaign,
    null as utm_content, null as device_type, null as device_is_mobile, null as os_name,
    null as browser_name, null as browser_language, null as geo_country, null as geo_region,
    _source_file as source_file
from toy_pages
where (ts at time zone $tz)::date in (select unnest($days::date[]))
""",
    "stage/sessions.sql": """
-- stage.sessions (toy): one row per visit
-- depends_on: stage.events
select
    session_id, any_value(visitor_id) as visitor_id, min(event_ts) as session_start,
    max(event_ts) as session_end, min(event_date) as session_date,
    date_diff('second', min(event_ts), max(event_ts)) as duration_s, count(*) as events,
    count(*) as pageviews, 0 as add_to_carts, arg_min(page_path, event_ts) as landing_page,
    arg_max(page_path, event_ts) as exit_page, count(*) = 1 as is_bounce,
    count(*) > 1 as is_engaged, null as utm_source, null as utm_medium, null as utm_campaign,
    null as referer_medium, null as device_type, null as os_name, null as browser_name,
    null as geo_country, null as geo_region, 0 as orders, 0::decimal(18, 2) as revenue,
    false as converted
from stage.events
where source_format = 'toy'
group by session_id
having min(event_date) in (select unnest($days::date[]))
""",
    "stage/orders.sql": """
-- stage.orders (toy): the toy shop sells nothing
select null::varchar as order_id, null::timestamptz as order_ts, null::date as order_date,
    null::varchar as session_id, null::varchar as visitor_id, 0 as items,
    0::decimal(18, 2) as revenue, 0 as unpriced_items
where false
""",
    "stage/order_items.sql": """
-- stage.order_items (toy): nothing sold, nothing ordered
select null::varchar as order_id, null::varchar as item_event_id,
    null::timestamptz as order_ts, null::date as order_date, null::varchar as session_id,
    null::varchar as visitor_id, null::varchar as product_id, null::varchar as product_name,
    null::varchar as category, null::timestamptz as added_at, null::decimal(18, 2) as price,
    null::varchar as currency
where false
""",
    "affected_days.sql": """
select distinct (ts at time zone $tz)::date as day
from raw.toy_events
where _batch_id in (select unnest($batches))
""",
    "reconcile.sql": """
select (ts at time zone $tz)::date as day, count(*) as raw_rows,
    count(*) - count(distinct event_id) as duplicates
from raw.toy_events
where (ts at time zone $tz)::date in (select unnest($days::date[]))
group by all
""",
}
TOY_LINES = [  # two visits, three page views, one line sent twice
    {"event_id": "t1", "ts": "2024-03-01T00:10:00Z", "visit": "v1", "visitor": "a", "path": "/"},
    {"event_id": "t2", "ts": "2024-03-01T00:12:00Z", "visit": "v1", "visitor": "a", "path": "/x"},
    {"event_id": "t2", "ts": "2024-03-01T00:12:00Z", "visit": "v1", "visitor": "a", "path": "/x"},
    {"event_id": "t3", "ts": "2024-03-01T00:20:00Z", "visit": "v2", "visitor": "b", "path": "/"},
]


def test_every_stream_is_declared_once_with_its_raw_table():
    streams = sources.streams()
    assert len(streams) == len(set(streams))
    assert {"browser_events", "ga_sessions", "ga4_events"} <= set(streams)
    for path in sources.raw_ddl():
        assert f"lake.raw.{path.stem} " in path.read_text()
    assert load_settings({"CLICKLAKE_ENV_FILE": "/nonexistent"}).streams == streams


def test_a_conformed_model_is_each_formats_rows_of_its_columns_with_their_format():
    model = transform.parse_model(SQL_DIR / "stage" / "events.sql")
    names = [u.name for u in sources.formats() if u.file("stage/events.sql")]
    assert names == ["ga360", "ga4", "tracker"]
    for name in names:
        assert f"select '{name}' as source_format, \"event_id\", \"event_ts\"" in model.sql
    assert "stage.page_rules" in model.depends_on
    assert model.partition == "event_date"


@pytest.fixture(scope="module")
def toy_lake(tmp_path_factory) -> tuple[Path, dict]:
    """A lake whose sql/ has one more unit, `toy`, fed beside a tracker hour, plus a source
    folder no unit declares."""
    home = tmp_path_factory.mktemp("toy")
    sql = home / "sql"
    shutil.copytree(SQL_DIR, sql)
    for name, text in TOY.items():
        (sql / "sources" / "toy" / name).parent.mkdir(parents=True, exist_ok=True)
        (sql / "sources" / "toy" / name).write_text(text.lstrip())
    source = home / "source"
    truth = generate(source, START, 1, events_per_hour=300, seed=3)["truth"]
    folder = source / "toy_events" / "date=2024-03-01" / "hour=00"
    folder.mkdir(parents=True)
    (folder / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TOY_LINES))
    stray = source / "clicks_v2" / "date=2024-03-01" / "hour=00"
    stray.mkdir(parents=True)
    for i in range(3):
        (stray / f"part-{i}.jsonl").write_text('{"event_id": "x"}\n')
    return home, truth


def _run(home: Path, *args: str):
    return clicklake(home, *args, env={"CLICKLAKE_SQL_DIR": str(home / "sql")})


def test_a_format_added_as_a_folder_is_loaded_staged_and_counted_beside_the_tracker(toy_lake):
    home, truth = toy_lake
    result = _run(home, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01")
    assert result.returncode == 0, result.stderr
    out = _run(home, "query", "select source_format, count(*) as n from stage.events "
               "group by all order by 1", "--format", "json")
    counts = {r["source_format"]: r["n"] for r in json.loads(out.stdout)}
    day = truth["days"]["2024-03-01"]
    assert counts == {"toy": 3, "tracker": day["events"]}
    kpis = json.loads(_run(home, "query", "select events, sessions, pageviews from "
                           "mart.daily_kpis", "--format", "json").stdout)
    assert kpis == [{"events": day["events"] + 3, "sessions": day["sessions"] + 2,
                     "pageviews": day["pageviews"] + 3}]
    checks = json.loads(_run(home, "query", "select check_name, status from "
                             "ops.check_results where status <> 'pass'", "--format",
                             "json").stdout)
    assert checks == []  # raw_reconciles holds for the toy's duplicate too
    assert "toy_events" in _run(home, "docs").stdout
    shown = result.stdout + result.stderr
    assert "temp.toy_pages" in shown  # its private model was built
    assert "temp.ga360" not in shown and "temp.ga4" not in shown  # formats without data: no cost


def test_a_source_folder_no_format_declares_is_named_in_the_run_and_in_status(toy_lake):
    home, _ = toy_lake
    result = _run(home, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01")
    assert "3 files in unknown stream `clicks_v2` were not read" in result.stdout + result.stderr
    status = _run(home, "status")
    assert "clicks_v2" in status.stdout and "not read" in status.stdout


def test_a_daily_export_is_looked_for_as_late_as_its_format_allows(tmp_path):
    from clicklake.extract import source_objects

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    for stream in ("ga4_events", "browser_events"):
        folder = tmp_path / "source" / stream / "date=2024-03-01"
        folder.mkdir(parents=True)
        (folder / "part-0.jsonl").write_text("{}\n")
    # 60 hours after the day ended: past the 48-hour lookback, within GA4's 72-hour window
    start = datetime(2024, 3, 4, 12, tzinfo=UTC)
    end = datetime(2024, 3, 4, 13, tzinfo=UTC)
    assert sources.format_of("ga4_events").late_hours == 72 > settings.lookback_hours
    assert len(source_objects(settings, "ga4_events", start, end)) == 1
    assert source_objects(settings, "browser_events", start, end) == []
