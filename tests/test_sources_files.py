"""Source files beyond the tracker's hourly JSONL: Parquet exports (landed as they are, loaded
column by column onto the raw contract), daily folders, and stream folders no unit declares."""

import gzip
import json
import zipfile
from datetime import UTC, date, datetime

import duckdb
import pytest

from clicklake.config import load_settings
from clicklake.extract import extract_stream, unknown_streams
from clicklake.lake import connect
from clicklake.load import load_stream, pending_files

H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)
H1 = datetime(2024, 3, 1, 1, tzinfo=UTC)
DAY = "date=2024-03-01"

# a contract like a GA export's: ids as text, nested records as JSON, a required timestamp
DDL = """
create table lake.raw.{stream} (
    fullVisitorId varchar not null,
    visitId varchar,
    visitStartTime timestamptz not null,
    visitNumber bigint,
    totals json,
    hits json,
    channelGrouping varchar,
    _unmapped json,
    _source_file varchar not null,
    _line_no bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamptz not null,
    _source_date date not null
)
"""
# six rows as BigQuery's EXPORT DATA writes them: INT64 ids, nested structs and lists,
# `device`, a column the contract does not know (null in some rows)
ROWS = """
select * from (values
    (1, 123::bigint, 1501583974::bigint, '2024-03-01 00:00:01+00', '2',
     {'visits': 1, 'pageviews': 3, 'bounces': null::bigint},
     [{'hitNumber': 1, 'page': {'pagePath': '/'}}, {'hitNumber': 2, 'page': {'pagePath': '/c'}}],
     null::struct(category varchar)),
    (2, null, 2, '2024-03-01 00:00:02+00', '1', {'visits': 1, 'pageviews': 1, 'bounces': 1},
     [], null),
    (3, 789, 3, 'not a time', '1', null, null, null),
    (4, 1011, null, '2024-03-01 00:00:04+00', 'many', {'visits': null, 'pageviews': null,
     'bounces': null}, null, null),
    (5, 1213, 5, '2024-03-01 00:00:05+00', '7', null, null, {'category': 'mobile'}),
    (6, 1415, 6, '2024-03-01 00:00:06+00', null, null, null, null)
) as t(n, fullVisitorId, visitId, visitStartTime, visitNumber, totals, hits, device)
order by n
"""


@pytest.fixture
def lake(tmp_path):
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    con = connect(settings=settings)
    yield settings, con
    con.close()


def _parquet(path, sql):
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"copy ({sql}) to '{path}' (format parquet)")
    return path


def _ga_file(settings, stream="pq_sessions", name="000000000000.parquet", root=None):
    root = root or settings.home / "source"
    return _parquet(root / stream / DAY / name, f"select * exclude (n) from ({ROWS})")


def test_a_parquet_file_lands_as_it_is_with_its_row_count(lake):
    settings, con = lake
    source = _ga_file(settings)
    res = extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
    [landed] = res.landed
    assert landed.landing_uri.endswith(f"pq_sessions/{DAY}/000000000000-"
                                       f"{landed.source.etag[:8]}.parquet")
    assert open(landed.landing_uri, "rb").read() == source.read_bytes()
    assert (landed.lines_in, landed.lines_invalid, landed.lines_blank) == (6, 0, 0)
    assert landed.rejected_uri is None
    again = extract_stream(con, settings, "pq_sessions", H0, H1, "r2")
    assert (again.skipped, again.landed) == (1, [])


def test_a_parquet_file_loads_column_by_column_onto_the_contract(lake):
    settings, con = lake
    con.execute(DDL.format(stream="pq_sessions"))
    _ga_file(settings)
    extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
    result = load_stream(con, "pq_sessions", "run1")
    assert (result.files, result.rows_in, result.rows_loaded, result.rows_rejected) == (1, 6, 4, 2)
    assert result.reasons == {"missing fullVisitorId": 1, "invalid visitStartTime": 1}
    rows = con.execute(
        "select _line_no, fullVisitorId, visitId, visitStartTime, visitNumber, totals, hits, "
        "channelGrouping, _unmapped, _source_date, _source_file like '%.parquet' "
        "from raw.pq_sessions order by _line_no"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 4, 5, 6]
    first = rows[0]
    # ids of any type land as their digits, timestamps cast, a number given as text casts
    assert first[1:5] == ("123", "1501583974", datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC), 2)
    # structs and lists become the JSON text the JSON export has
    assert json.loads(first[5]) == {"visits": 1, "pageviews": 3, "bounces": None}
    assert json.loads(first[6]) == [{"hitNumber": 1, "page": {"pagePath": "/"}},
                                    {"hitNumber": 2, "page": {"pagePath": "/c"}}]
    assert first[7] is None  # a contract column the file lacks is null
    assert first[8] is None  # nothing unmapped: the unknown `device` column is null here
    assert first[9:] == (date(2024, 3, 1), True)
    # an optional value that does not cast keeps the whole row in _unmapped
    assert rows[1][4] is None and json.loads(rows[1][8])["visitNumber"] == "many"
    # so does a column the contract does not know, when it has a value
    assert json.loads(rows[2][8])["device"] == {"category": "mobile"}
    assert json.loads(rows[2][8])["visitId"] == 5
    assert rows[3][8] is None
    rejected = con.execute(
        "select line_no, reason, line from ops.rejected_rows order by line_no"
    ).fetchall()
    assert [r[:2] for r in rejected] == [
        (2, "missing fullVisitorId"), (3, "invalid visitStartTime: not a time")
    ]
    assert json.loads(rejected[0][2])["totals"] == {"visits": 1, "pageviews": 1, "bounces": 1}
    assert json.loads(rejected[1][2])["fullVisitorId"] == 789
    ledger = con.execute("select rows_in, rows_loaded, rows_rejected from ops.load_ledger")
    assert ledger.fetchall() == [(6, 4, 2)]
    assert load_stream(con, "pq_sessions", "run2").files == 0


def test_a_parquet_file_and_its_jsonl_export_load_the_same_values(lake):
    settings, con = lake
    con.execute(DDL.format(stream="pq_sessions"))
    _ga_file(settings)
    jsonl = settings.home / "source" / "pq_sessions" / DAY / "export.jsonl"
    with duckdb.connect() as dcon:
        dcon.execute(f"copy (select * exclude (n) from ({ROWS})) to '{jsonl}' (format json)")
    extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
    result = load_stream(con, "pq_sessions", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (12, 8, 4)

    def loaded(suffix):
        return con.execute(
            "select * exclude (_source_file, _batch_id, _loaded_at, _unmapped), "
            "_unmapped::json->>'$.device' from raw.pq_sessions where _source_file like ? "
            "order by _line_no", [f"%{suffix}"]
        ).fetchall()

    assert loaded(".parquet") == loaded(".jsonl")
    reasons = con.execute(
        "select source_uri like '%.parquet', line_no, reason from ops.rejected_rows order by all"
    ).fetchall()
    assert [r[1:] for r in reasons if r[0]] == [r[1:] for r in reasons if not r[0]]


def test_a_parquet_file_without_a_required_column_rejects_every_row(lake):
    settings, con = lake
    con.execute(DDL.format(stream="pq_sessions"))
    _parquet(settings.home / "source" / "pq_sessions" / DAY / "p.parquet",
             "select 1 as visitId, 2 as other union all select 3, 4")
    extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
    result = load_stream(con, "pq_sessions", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (2, 0, 2)
    assert result.reasons == {"missing fullVisitorId; missing visitStartTime": 2}
    assert con.execute("select count(*) from raw.pq_sessions").fetchone()[0] == 0
    data_files = list((settings.home / "lake" / "raw" / "pq_sessions").glob("*"))
    assert data_files == []  # no empty data file is left behind


def test_an_empty_parquet_file_loads_nothing_and_reconciles(lake):
    settings, con = lake
    con.execute(DDL.format(stream="pq_sessions"))
    _parquet(settings.home / "source" / "pq_sessions" / DAY / "empty.parquet",
             "select '1' as fullVisitorId where false")
    [landed] = extract_stream(con, settings, "pq_sessions", H0, H1, "r1").landed
    assert landed.lines_in == 0
    result = load_stream(con, "pq_sessions", "run1")
    assert (result.files, result.rows_in, result.rows_loaded) == (1, 0, 0)


def test_a_file_that_is_not_parquet_is_rejected_with_its_name_and_reason(lake):
    settings, con = lake
    con.execute(DDL.format(stream="pq_sessions"))
    bad = settings.home / "source" / "pq_sessions" / DAY / "broken.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"fullVisitorId": "1"}\n')
    _ga_file(settings)  # a good file beside it still loads
    res = extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
    broken = next(f for f in res.landed if "broken" in f.source.uri)
    assert broken.landing_uri.endswith(".jsonl")
    assert (broken.lines_in, broken.lines_invalid) == (1, 1)
    result = load_stream(con, "pq_sessions", "run1")
    assert (result.files, result.rows_in, result.rows_loaded, result.rows_rejected) == (2, 7, 4, 3)
    assert result.reasons["not a Parquet file"] == 1
    [(source, line_no, reason)] = con.execute(
        "select source_uri, line_no, reason from ops.rejected_rows "
        "where reason like 'not a Parquet%'"
    ).fetchall()
    assert source == str(bad) and line_no == 1
    # DuckDB's reason, one line, naming the source (never a temporary copy)
    assert reason.startswith("not a Parquet file: Invalid Input Error: ")
    assert str(bad) in reason and "\n" not in reason


def test_a_zip_member_in_parquet_lands_as_parquet(lake):
    settings, con = lake
    member = _parquet(settings.home / "tmp" / "part.parquet", "select '1' as fullVisitorId")
    target = settings.home / "source" / "pq_sessions" / DAY / "x.zip"
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(target, "w") as zf:
        zf.write(member, "part.parquet")
    [landed] = extract_stream(con, settings, "pq_sessions", H0, H1, "r1").landed
    assert landed.landing_uri.endswith(".parquet") and landed.lines_in == 1
    [pending] = pending_files(con, "pq_sessions")
    assert pending.is_parquet and not pending.is_dense


def _touch(root, *rels):
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(b"{}\n") if rel.endswith(".gz") else b"{}\n")


UNKNOWN_LAYOUT = [
    "browser_events/date=2024-03-01/hour=00/a.jsonl",
    "foo_events/date=2024-03-01/hour=00/a.jsonl",
    "foo_events/date=2024-03-01/hour=00/b.jsonl.gz",
    "foo_events/date=2024-02-28/hour=12/late.jsonl",  # inside the 48 h lookback
    "foo_events/date=2024-02-20/hour=00/old.jsonl",  # long before the window
    "foo_events/date=2024-03-05/hour=00/future.jsonl",  # after it
    "foo_events/date=2024-03-01/hour=00/_SUCCESS",  # a marker, no data
    "foo_events/loose.jsonl",  # no date= folder: it would never be read
    "pq_sessions/date=2024-03-01/export.json.gz",  # a daily export
    "old_stream/date=2024-01-01/hour=00/a.jsonl",  # nothing in the window
    "_staging/date=2024-03-01/hour=00/a.jsonl",
    ".cache/date=2024-03-01/hour=00/a.jsonl",
    "truth.json",
]


def test_unknown_stream_folders_are_counted_over_the_run_window(lake):
    settings, _ = lake
    _touch(settings.home / "source", *UNKNOWN_LAYOUT)
    found = unknown_streams(settings, ["browser_events", "device_events"], H0, H1)
    assert found == {"foo_events": 4, "pq_sessions": 1}
    assert unknown_streams(settings, ["browser_events", "foo_events", "pq_sessions"], H0, H1) == {}


def test_no_source_folder_means_no_unknown_streams(tmp_path):
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    assert unknown_streams(settings, [], H0, H1) == {}


def test_unknown_streams_and_parquet_sources_work_on_s3(tmp_path, s3):
    source = s3.new_bucket("source")
    lake_bucket = s3.new_bucket("lake")
    settings = load_settings({
        "CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none",
        "CLICKLAKE_SOURCE_URI": f"s3://{source}/source",
        "CLICKLAKE_LANDING_URI": f"s3://{lake_bucket}/landing", **s3.env(),
    })
    folder = tmp_path / "upload"
    _touch(folder, *UNKNOWN_LAYOUT)
    bad = folder / "pq_sessions" / DAY / "broken.parquet"
    bad.write_text("not parquet")
    _ga_file(settings, root=folder)
    s3.upload_folder(folder, settings.source_uri)
    found = unknown_streams(settings, ["browser_events", "device_events"], H0, H1)
    assert found == {"foo_events": 4, "pq_sessions": 3}

    con = connect(settings=settings)
    try:
        con.execute(DDL.format(stream="pq_sessions"))
        res = extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
        landed = {f.source.uri.rsplit("/", 1)[1]: f for f in res.landed}
        assert landed["000000000000.parquet"].landing_uri.startswith(f"s3://{lake_bucket}/")
        assert landed["000000000000.parquet"].lines_in == 6
        assert landed["broken.parquet"].lines_invalid == 1
        result = load_stream(con, "pq_sessions", "run1")
        # the JSON export's `{}` line lacks the required fields; the Parquet file as locally
        assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (8, 4, 4)
        assert result.reasons["not a Parquet file"] == 1
    finally:
        con.close()


def test_a_parquet_file_with_unreadable_data_has_every_row_rejected_not_the_load(lake):
    settings, con = lake
    con.execute(DDL.format(stream="pq_sessions"))
    folder = settings.home / "source" / "pq_sessions" / DAY
    good = _parquet(folder / "a.parquet",
                    "select range::varchar as fullVisitorId, 'x' || range as channelGrouping, "
                    "timestamptz '2024-03-01 00:00:00+00' as visitStartTime from range(20000)")
    data = good.read_bytes()
    # its footer is whole (so extract counts its rows) but its first pages are not
    (folder / "a.parquet").write_bytes(data[:100] + b"\xff" * 2000 + data[2100:])
    _ga_file(settings, name="b.parquet")
    # a footer that is not one: not a Parquet file
    (folder / "c.parquet").write_bytes(data[:-50] + b"\x07" * 42 + data[-8:])
    res = extract_stream(con, settings, "pq_sessions", H0, H1, "r1")
    assert sorted((f.source.uri[-9:], f.lines_in, f.lines_invalid) for f in res.landed) == [
        ("a.parquet", 20000, 0), ("b.parquet", 6, 0), ("c.parquet", 1, 1)
    ]
    result = load_stream(con, "pq_sessions", "run1")
    assert (result.files, result.rows_in, result.rows_loaded) == (3, 20007, 4)
    assert result.reasons == {"unreadable Parquet file": 20000, "not a Parquet file": 1,
                              "missing fullVisitorId": 1, "invalid visitStartTime": 1}
    ledger = con.execute(
        "select regexp_extract(source_uri, '(\\w)\\.parquet', 1), rows_in, rows_loaded, "
        "rows_rejected from ops.load_ledger order by 1"
    ).fetchall()
    assert ledger == [("a", 20000, 0, 20000), ("b", 6, 4, 2), ("c", 1, 0, 1)]
    assert len(list((settings.home / "lake" / "raw" / "pq_sessions").glob("*"))) == 1  # b's
