"""Foundation acceptance: real lakes, real files, no mocks.

One generated source (four night hours across midnight, every fault on) goes through three
lakes: embedded, hour by hour, with two crashed hours and a file that arrives late; embedded,
in one clean pass over the whole window; and Postgres catalog + S3 storage, hour by hour. Each
must match the generator's truth, an independent count of the source files made here with
plain Python, and each other.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from clicklake import pipeline, transform
from clicklake.config import Settings, load_settings
from clicklake.generate import FAULTS, generate
from clicklake.lake import connect
from clicklake.storage import list_objects

START = datetime(2024, 3, 1, 22, tzinfo=UTC)  # 22:00 to 02:00: the runs cross midnight
HOURS = 4
END = START + timedelta(hours=HOURS)
# A few withheld visits of 23:00 arrive in the 00:00 folder after that hour ran.
LATE_FROM = "browser_events/date=2024-03-01/hour=23/part-0000.jsonl.gz"
LATE_TO = "browser_events/date=2024-03-02/hour=00/resent-2024030123.jsonl.gz"
LATE_VISITS = 5
REQUIRED = {  # the tracker contract's required fields (DESIGN.md), in raw column order
    "browser_events": ("event_id", "click_id", "event_timestamp"),
    "location_events": ("event_id",),
    "device_events": ("click_id",),
    "geo_events": ("click_id",),
    "products": ("product_id", "price", "updated_at"),
}
TIMESTAMPS = ("event_timestamp", "updated_at")
# when and by which run a row was processed: differs between two lakes of the same data
PROCESSING_COLUMNS = {"batch_id", "run_id", "rejected_at", "rejected_date", "loaded_at",
                      "landed_at", "transformed_at"}


# -- the source, counted independently ---------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().split("\n")


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _reject_reason(stream: str, line: str) -> str | None:
    """Why the contract rejects a line (None when it is a valid row), judged in plain Python."""
    try:
        row = json.loads(line)
    except ValueError:
        return "invalid JSON"
    if not isinstance(row, dict):
        return "not a JSON object"
    reasons = []
    for name in REQUIRED[stream]:
        value = row.get(name)
        if value is None or str(value).strip() == "":
            reasons.append(f"missing {name}")
        elif name in TIMESTAMPS:
            try:
                datetime.fromisoformat(str(value))
            except ValueError:
                reasons.append(f"invalid {name}")
        elif name == "price" and not isinstance(value, int | float):
            reasons.append(f"invalid {name}")
    return "; ".join(reasons) or None


@dataclass
class SourceCount:
    """What a correct pipeline must make of the source files."""

    lines: int = 0  # non-blank lines of every file
    rejected: set[tuple[str, int, str]] = field(default_factory=set)  # (file, line no, reason)
    events: Counter = field(default_factory=Counter)  # day -> distinct valid event ids
    sessions: Counter = field(default_factory=Counter)  # day of first event -> visits
    orders: Counter = field(default_factory=Counter)  # day -> /confirmation pageviews
    duplicated_events: int = 0  # valid browser lines repeating an event id seen before
    unknown_fields: int = 0  # valid lines with a field the contract does not name


def count_source(folder: Path) -> SourceCount:
    count = SourceCount()
    browser: dict[str, dict] = {}
    paths: dict[str, str] = {}
    for path in sorted(folder.rglob("*.jsonl.gz")):
        rel = path.relative_to(folder).as_posix()
        stream = rel.split("/")[0]
        for line_no, line in enumerate(_lines(path), 1):
            if not line.strip():
                continue
            count.lines += 1
            reason = _reject_reason(stream, line)
            if reason:
                count.rejected.add((rel, line_no, reason))
                continue
            row = json.loads(line)
            count.unknown_fields += bool(set(row) - set(REQUIRED[stream]) - KNOWN[stream])
            if stream == "browser_events":
                if row["event_id"] in browser:
                    count.duplicated_events += 1
                browser.setdefault(row["event_id"], row)
            elif stream == "location_events":
                paths.setdefault(row["event_id"], row.get("page_url_path"))
    visit_start: dict[str, datetime] = {}
    for event_id, row in browser.items():
        ts = datetime.fromisoformat(row["event_timestamp"]).astimezone(UTC)
        count.events[ts.date()] += 1
        visit_start[row["click_id"]] = min(ts, visit_start.get(row["click_id"], ts))
        if row.get("event_type") == "pageview" and paths.get(event_id) == "/confirmation":
            count.orders[ts.date()] += 1
    count.sessions.update(ts.date() for ts in visit_start.values())
    return count


KNOWN = {  # optional contract fields of each stream (DESIGN.md)
    "browser_events": {"event_type", "browser_name", "browser_user_agent", "browser_language"},
    "device_events": {"os", "os_name", "os_timezone", "device_type", "device_is_mobile",
                      "user_custom_id", "user_domain_id"},
    "geo_events": {"geo_latitude", "geo_longitude", "geo_country", "geo_timezone",
                   "geo_region_name", "ip_address"},
    "location_events": {"page_url", "page_url_path", "referer_url", "referer_medium",
                        "utm_medium", "utm_source", "utm_content", "utm_campaign"},
    "products": {"name", "category", "currency"},
}


@dataclass
class Source:
    folder: Path  # every file but the late one
    late_lines: list[str]  # the late file's lines, to write at LATE_TO
    late_orders: int  # orders among them
    truth: dict

    def complete_copy(self, dest: Path) -> Path:
        """The whole source, late file included, as a folder under `dest`."""
        shutil.copytree(self.folder, dest)
        _write(dest / LATE_TO, self.late_lines)
        return dest


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    """Four hours of generated traffic with every fault, a few visits of 23:00 held back."""
    folder = tmp_path_factory.mktemp("generated") / "source"
    result = generate(folder, START, HOURS, events_per_hour=300, seed=20, faults=FAULTS)
    paths = {}
    for path in folder.glob("location_events/**/*.jsonl.gz"):
        for line in _lines(path):
            if not _reject_reason("location_events", line) and line.strip():
                row = json.loads(line)
                paths[row["event_id"]] = row.get("page_url_path")
    lines = _lines(folder / LATE_FROM)
    visits: dict[str, bool] = {}  # click id -> whether the visit ordered in this file
    for line in lines:
        if line.strip() and not _reject_reason("browser_events", line):
            row = json.loads(line)
            ordered = paths.get(row["event_id"]) == "/confirmation"
            visits[row["click_id"]] = visits.get(row["click_id"], False) or ordered
    # orders first, so that the late file moves revenue as well as traffic
    held = sorted(visits, key=lambda c: (not visits[c], c))[:LATE_VISITS]
    late = [x for x in lines if x.strip() and any(f'"click_id":"{c}"' in x for c in held)]
    _write(folder / LATE_FROM, [x for x in lines if x.strip() and x not in late])
    late_orders = {row["event_id"] for row in map(json.loads, filter(_valid_browser, late))
                   if row.get("event_type") == "pageview"
                   and paths.get(row["event_id"]) == "/confirmation"}
    return Source(folder, late, len(late_orders), result["truth"])


def _valid_browser(line: str) -> bool:
    return bool(line.strip()) and _reject_reason("browser_events", line) is None


@pytest.fixture(scope="module")
def expected(source, tmp_path_factory) -> SourceCount:
    count = count_source(source.complete_copy(tmp_path_factory.mktemp("complete") / "source"))
    # the faults really happened, so the assertions below are about something
    assert count.duplicated_events and count.unknown_fields
    reasons = {r for _, _, r in count.rejected}
    assert {"invalid JSON", "missing event_id", "missing click_id"} <= reasons
    assert any("/late-" in path.as_posix() for path in source.folder.rglob("*.gz"))
    assert len(count.events) == 2  # two days
    return count


# -- lakes -------------------------------------------------------------------------------------


@dataclass
class Lake:
    settings: Settings
    con: object
    facts: dict = field(default_factory=dict)  # what the build observed on its way

    def rows(self, sql: str, params=None) -> list[tuple]:
        return self.con.execute(sql, params or {}).fetchall()

    def value(self, sql: str, params=None):
        return self.con.execute(sql, params or {}).fetchone()[0]

    def kpis(self) -> dict[str, dict]:
        cur = self.con.execute("select * from mart.daily_kpis order by date")
        names = [d[0] for d in cur.description]
        return {str(r[0]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}

    def relative(self, uri: str) -> str:
        return uri.removeprefix(self.settings.source_uri.rstrip("/") + "/")


def _open(env: dict[str, str]) -> Lake:
    settings = load_settings(env)
    return Lake(settings, connect(settings=settings))


def _embedded_env(home: Path) -> dict[str, str]:
    return {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"}


def _run(lake: Lake, hour: datetime) -> pipeline.HourSummary:
    return pipeline.run_hour(lake.con, lake.settings, hour)


@pytest.fixture(scope="module")
def lake(source, tmp_path_factory):
    """Embedded, hour by hour: 22:00 crashes after extract and 23:00 after stage, both run
    again; a late file lands in the 00:00 folder after 00:00 ran and 01:00 picks it up."""
    home = tmp_path_factory.mktemp("embedded")
    shutil.copytree(source.folder, home / "source")
    lake = _open(_embedded_env(home))
    h22, h23, h00, h01 = pipeline.hours(START, END)
    con, settings = lake.con, lake.settings

    pipeline.extract(con, settings, h22, h23, pipeline.new_run_id(h22))
    lake.facts["unloaded_after_crash"] = lake.value(
        "select count(*) from ops.landed_files anti join ops.load_ledger using (landing_uri)")
    _run(lake, h22)

    run_id = pipeline.new_run_id(h23)
    pipeline.extract(con, settings, h23, h00, run_id)
    pipeline.load(con, settings, run_id)
    pipeline.build_stage(con, settings, run_id, h00)
    lake.facts["untransformed_after_crash"] = len(transform.pending_batches(con))
    _run(lake, h23)

    _run(lake, h00)
    late_ids = sorted({json.loads(x)["event_id"] for x in source.late_lines
                       if not _reject_reason("browser_events", x)})
    lake.facts["late_ids"] = late_ids
    lake.facts["late_seen_before"] = lake.value(
        "select count(*) from stage.events where event_id in (select unnest($ids))",
        {"ids": late_ids})
    lake.facts["kpis_before"] = lake.kpis()
    _write(home / "source" / LATE_TO, source.late_lines)
    lake.facts["late_run"] = _run(lake, h01)
    yield lake
    lake.con.close()


@pytest.fixture(scope="module")
def one_pass(source, tmp_path_factory):
    """Embedded, the complete source in one clean pass over the whole window."""
    home = tmp_path_factory.mktemp("one_pass")
    source.complete_copy(home / "source")
    lake = _open(_embedded_env(home))
    run_id = pipeline.new_run_id(START)
    pipeline.extract(lake.con, lake.settings, START, END, run_id)
    pipeline.load(lake.con, lake.settings, run_id)
    pipeline.build(lake.con, lake.settings, run_id, END)
    yield lake
    lake.con.close()


@pytest.fixture(scope="module")
def servers(source, tmp_path_factory, new_server_env, s3):
    """Postgres catalog + S3 storage (landing and lake data), hour by hour, the complete source
    uploaded to the source bucket first."""
    home = tmp_path_factory.mktemp("servers")
    env = new_server_env(home)
    complete = source.complete_copy(home / "upload")
    assert s3.upload_folder(complete, env["CLICKLAKE_SOURCE_URI"]) > 20
    lake = _open(env)
    for hour in pipeline.hours(START, END):
        _run(lake, hour)
    yield lake
    lake.con.close()


# -- comparing lakes ---------------------------------------------------------------------------


def _tables(lake: Lake, schemas: tuple[str, ...]) -> list[str]:
    return [f"{s}.{t}" for s, t in lake.rows(
        "select schema_name, table_name from duckdb_tables() where database_name = 'lake' "
        "and schema_name in (select unnest($s)) order by all", {"s": list(schemas)})]


def _content(lake: Lake, table: str, skip: set[str] = frozenset()) -> list[str]:
    """The table's rows as sorted text, without processing columns, source paths relative."""
    cur = lake.con.execute(f"select * from {table}")
    names = [d[0] for d in cur.description]
    keep = [i for i, n in enumerate(names) if n not in skip]
    out = []
    for row in cur.fetchall():
        values = []
        for i in keep:
            v = row[i]
            if isinstance(v, float):
                v = round(v, 9)  # summation order may differ in the last bits
            elif isinstance(v, str):
                v = lake.relative(v)
            values.append(f"{names[i]}={v!r}")
        out.append(", ".join(values))
    return sorted(out)


def _digest(lake: Lake, table: str) -> tuple[int, str]:
    content = _content(lake, table)
    return len(content), hashlib.sha256("\n".join(content).encode()).hexdigest()


def _differences(a: Lake, b: Lake) -> dict[str, list[str]]:
    """Per stage or mart table, a few rows one lake has and the other has not."""
    tables = _tables(a, ("stage", "mart"))
    assert tables == _tables(b, ("stage", "mart"))
    diff = {}
    for table in tables:
        rows_a = Counter(_content(a, table, PROCESSING_COLUMNS))
        rows_b = Counter(_content(b, table, PROCESSING_COLUMNS))
        if rows_a != rows_b:
            diff[table] = ([f"only first: {r}" for r in (rows_a - rows_b)][:3]
                           + [f"only second: {r}" for r in (rows_b - rows_a)][:3])
    return diff


def _assert_truth(lake: Lake, truth: dict) -> None:
    kpis = lake.kpis()
    assert sorted(kpis) == sorted(truth["days"])
    for day, want in truth["days"].items():
        got = kpis[day]
        for kpi in ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders"):
            assert got[kpi] == want[kpi], (day, kpi)
        assert got["revenue"] == Decimal(str(want["revenue"])), (day, "revenue")


def _per_day(rows: list[tuple]) -> dict[date, int]:
    return {d: n for d, n in rows if n}


# -- the acceptance ----------------------------------------------------------------------------


def test_daily_kpis_equal_the_generators_truth_every_kpi_every_day(lake, source):
    _assert_truth(lake, source.truth)


def test_stage_counts_equal_an_independent_count_of_the_source_files(lake, expected):
    events = lake.rows("select event_date, count(*) from stage.events group by all")
    sessions = lake.rows("select session_date, count(*) from stage.sessions group by all")
    assert _per_day(events) == dict(expected.events)
    assert _per_day(sessions) == dict(expected.sessions)
    kpis = lake.kpis()
    assert {d: kpis[str(d)]["events"] for d in expected.events} == dict(expected.events)
    assert {d: kpis[str(d)]["sessions"] for d in expected.sessions} == dict(expected.sessions)
    assert {d: k["orders"] for d, k in kpis.items() if k["orders"]} == {
        str(d): n for d, n in expected.orders.items()}
    assert sum(expected.orders.values()) > 0


def test_no_event_is_in_stage_twice_although_the_source_repeats_some(lake, expected):
    assert expected.duplicated_events > 0
    assert lake.value("select count(*) - count(distinct event_id) from stage.events") == 0


def test_every_source_line_is_loaded_or_rejected_with_its_reason_and_line_number(lake, expected):
    ledger = lake.rows("select source_uri, rows_in, rows_loaded, rows_rejected "
                       "from ops.load_ledger")
    for uri, rows_in, loaded, rejected in ledger:
        assert rows_in == loaded + rejected, uri
    assert sum(r[1] for r in ledger) == expected.lines
    raw = sum(lake.value(f"select count(*) from {t}") for t in _tables(lake, ("raw",)))
    assert raw == sum(r[2] for r in ledger) == expected.lines - len(expected.rejected)
    # each source file was loaded exactly once, late or not
    assert Counter(lake.relative(r[0]) for r in ledger).most_common(1)[0][1] == 1
    rejected = {
        (lake.relative(uri), line_no, reason.split(":")[0])
        for uri, line_no, reason in lake.rows(
            "select source_uri, line_no, reason from ops.rejected_rows")
    }
    assert rejected == expected.rejected
    malformed = lake.rows("select line_no, line from ops.rejected_rows "
                          "where reason = 'invalid JSON' order by source_uri, line_no")
    assert malformed and all(n > 0 and line for n, line in malformed)


def test_a_late_file_in_an_already_run_hour_is_counted_once_on_its_event_day(lake, source):
    ids, facts = lake.facts["late_ids"], lake.facts
    assert ids and facts["late_seen_before"] == 0
    assert lake.rows("select run_id from ops.load_ledger where source_uri like '%' || $name",
                     {"name": LATE_TO}) == [(facts["late_run"].run_id,)]
    assert date(2024, 3, 1) in facts["late_run"].days
    assert lake.rows(
        "select event_date, count(*), count(distinct event_id) from stage.events "
        "where event_id in (select unnest($ids)) group by all", {"ids": ids}
    ) == [(date(2024, 3, 1), len(ids), len(ids))]
    before, after = facts["kpis_before"]["2024-03-01"], lake.kpis()["2024-03-01"]
    assert after["events"] - before["events"] == len(ids)
    assert after["orders"] - before["orders"] == source.late_orders > 0


def test_rerunning_the_same_hours_changes_nothing(lake):
    tables = [*_tables(lake, ("raw", "stage", "mart")), "ops.load_ledger", "ops.landed_files",
              "ops.rejected_rows", "ops.transform_log"]
    before = {t: _digest(lake, t) for t in tables}
    reruns = [_run(lake, hour) for hour in pipeline.hours(START, END)]
    assert sum(r.rows_loaded for s in reruns for r in s.loaded.values()) == 0
    assert {t: _digest(lake, t) for t in tables} == before


def test_crashed_hours_run_again_leave_the_same_lake_as_one_clean_pass(lake, one_pass, source):
    # the crashes left work behind: landed files not loaded, loaded batches not transformed
    assert lake.facts["unloaded_after_crash"] > 0
    assert lake.facts["untransformed_after_crash"] > 0
    _assert_truth(one_pass, source.truth)
    assert _differences(lake, one_pass) == {}


def test_postgres_catalog_and_s3_storage_give_the_truth_too(servers, source, expected):
    assert servers.settings.catalog_is_postgres
    assert servers.settings.data_path.startswith("s3://")
    _assert_truth(servers, source.truth)
    events = servers.rows("select event_date, count(*) from stage.events group by all")
    assert _per_day(events) == dict(expected.events)
    ledger = servers.rows("select rows_in, rows_loaded, rows_rejected from ops.load_ledger")
    assert all(i == lo + r for i, lo, r in ledger)
    assert sum(r[0] for r in ledger) == expected.lines
    # landing and the Parquet files are in the bucket, nothing on the local disk
    assert not any(Path(servers.settings.home).rglob("*.parquet"))
    assert not (Path(servers.settings.home) / "landing").exists()
    landed = list_objects(servers.settings, servers.settings.landing_uri)
    assert len([o for o in landed if "/_rejected/" not in o.uri]) == len(ledger)


def test_postgres_and_s3_build_the_same_stage_and_marts_as_the_embedded_lake(servers, one_pass):
    assert _differences(servers, one_pass) == {}


def test_a_rebuild_on_postgres_and_s3_gives_the_same_tables_again(servers, one_pass):
    """Each table dropped and created again in one transaction, on the Postgres catalog too."""
    pipeline.rebuild(servers.con, servers.settings, "rebuild-servers")
    assert _differences(servers, one_pass) == {}


def test_a_stage_model_that_fails_leaves_all_of_stage_as_it_was(tmp_path, monkeypatch):
    from support import build_lake

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    build_lake(settings, datetime(2024, 3, 1, 10, tzinfo=UTC), 1)
    con = connect(settings=settings)
    con.execute("delete from stage.events where event_type = 'click'")
    left = con.execute("select count(*) from stage.events").fetchone()[0]
    models = transform.discover()
    broken = next(m for m in models if m.name == "stage.visitors")  # built after stage.events
    monkeypatch.setattr(broken, "sql", "select * from no_such_table")
    monkeypatch.setattr(transform, "discover", lambda **_: models)
    with pytest.raises(Exception, match="stage.visitors"):
        pipeline.build_stage(con, settings, "broken", END, full=True)
    # a rebuild that committed stage.events on its own would have brought the clicks back
    assert con.execute("select count(*) from stage.events").fetchone()[0] == left
    monkeypatch.undo()
    pipeline.build_stage(con, settings, "fixed", END, full=True)
    assert con.execute("select count(*) from stage.events").fetchone()[0] > left
    con.close()


@pytest.mark.parametrize("layer", ["stage", "mart"])
def test_a_rebuild_that_fails_leaves_every_table_as_it_was(tmp_path, monkeypatch, layer):
    """A rebuild drops each table in the transaction that builds it again: when a model fails,
    readers and the next hourly run still have every day, not empty or half-built tables."""
    from support import build_lake

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    build_lake(settings, datetime(2024, 3, 1, 10, tzinfo=UTC), 2)
    con = connect(settings=settings)
    tables = ["stage.events", "stage.sessions", "mart.daily_kpis", "mart.hourly_traffic"]
    before = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    models = transform.discover()
    name = "stage.visitors" if layer == "stage" else "mart.session_paths"  # built late
    broken = next(m for m in models if m.name == name)
    monkeypatch.setattr(broken, "sql", "select * from no_such_table")
    monkeypatch.setattr(transform, "discover", lambda **_: models)
    with pytest.raises(Exception, match=name):
        pipeline.rebuild(con, settings, "broken")
    assert {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables} == before
    monkeypatch.undo()
    pipeline.rebuild(con, settings, "fixed")
    assert {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables} == before
    con.close()


def test_each_model_is_shown_as_it_is_built_and_recorded_once(tmp_path, monkeypatch):
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    hour = datetime(2024, 3, 1, 10, tzinfo=UTC)
    generate(settings.source_uri, hour, 1, events_per_hour=300, seed=5)
    seen: list[str] = []
    build_marts = pipeline.build_marts

    def marts(*args, **kwargs):
        seen.append("marts start")
        return build_marts(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_marts", marts)
    con = connect(settings=settings)
    summary = pipeline.run_hour(con, settings, hour, on_step=lambda s: seen.append(s.target))
    con.close()
    models = [m.name for m in transform.discover(only={"tracker"})]  # the lake's one format
    # the stage models are shown before the marts are even started, not all at the end
    assert seen.index("stage.events") < seen.index("marts start") < seen.index("mart.daily_kpis")
    recorded = [s.target for s in summary.steps if s.step == "transform"]
    assert sorted(recorded) == sorted(models)


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/St_Johns"])  # +05:30 and -03:30
def test_stage_days_and_hours_are_the_reporting_time_zones_across_its_midnight(tmp_path, tz):
    from support import build_lake

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none",
                              "CLICKLAKE_TIMEZONE": tz})
    # two hours around the zone's local midnight (18:30 UTC in Kolkata, 03:30 in St John's)
    start = datetime(2024, 3, 1, 18 if tz == "Asia/Kolkata" else 3, tzinfo=UTC)
    build_lake(settings, start, 2)
    con = connect(settings=settings)
    off = con.execute(
        """
        select count(distinct event_date),
               count(*) filter (where event_date <> (event_ts at time zone $tz)::date
                                   or event_hour <> date_trunc('hour', event_ts at time zone $tz))
        from stage.events
        """, {"tz": tz}).fetchone()
    assert off == (2, 0)  # both local days, and every event's day and hour as converted
    wrong = con.execute(
        "select count(*) from stage.sessions "
        "where session_date <> (session_start at time zone $tz)::date", {"tz": tz}
    ).fetchone()[0]
    assert wrong == 0
    con.close()


def test_parallel_work_starts_with_the_biggest_items_and_returns_them_in_their_order(
        tmp_path):
    """load runs the streams with the most pending lines first (one free thread here, so the
    start order is the order of sizes), yet its results keep the streams' order."""
    from clicklake.config import load_settings
    from clicklake.lake import connect
    from clicklake.pipeline import _parallel

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/nonexistent",
                              "CLICKLAKE_WORKERS": "1"})
    started: list[str] = []

    def fn(cur, item):
        started.append(item)
        return item.upper()

    con = connect(settings=settings)
    got = _parallel(con, settings, ["a", "b", "c", "d"], fn, {"c": 10, "a": 5, "d": 7})
    assert started == ["c", "d", "a", "b"]
    assert got == ["A", "B", "C", "D"]
    con.close()
