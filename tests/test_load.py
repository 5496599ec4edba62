import json
from datetime import UTC, datetime

import pytest

from clicklake import load as load_mod
from clicklake.config import load_settings
from clicklake.extract import extract_stream
from clicklake.lake import connect
from clicklake.load import load_stream

H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)
H1 = datetime(2024, 3, 1, 1, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path):
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    con = connect(settings=settings)
    yield settings, con
    con.close()


def _land(settings, con, stream, rows, name="part-0"):
    path = settings.home / "source" / stream / "date=2024-03-01/hour=00" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return extract_stream(con, settings, stream, H0, H1, "run1")


def test_required_fields_missing_or_not_casting_are_rejected_with_the_reason(lake):
    settings, con = lake
    _land(settings, con, "browser_events", [
        {"event_id": "e1", "event_timestamp": "2024-03-01T00:00:01.5Z", "click_id": "c1"},
        {"event_timestamp": "2024-03-01T00:00:02Z", "click_id": "c1"},
        {"event_id": " ", "event_timestamp": "2024-03-01T00:00:02Z", "click_id": "c1"},
        {"event_id": "e4", "event_timestamp": "not-a-time", "click_id": "c1"},
        "garbage",
    ])
    result = load_stream(con, "browser_events", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (5, 1, 4)
    assert result.reasons == {
        "missing event_id": 2, "invalid event_timestamp": 1, "invalid JSON": 1
    }
    rejected = con.execute(
        "select line_no, reason from ops.rejected_rows order by line_no"
    ).fetchall()
    assert rejected == [
        (2, "missing event_id"), (3, "missing event_id"),
        (4, "invalid event_timestamp: not-a-time"), (5, "invalid JSON"),
    ]
    ts = con.execute("select event_timestamp, _line_no from raw.browser_events").fetchone()
    assert ts == (datetime(2024, 3, 1, 0, 0, 1, 500000, tzinfo=UTC), 1)


def test_unknown_fields_and_unfit_optional_values_are_kept_not_dropped(lake):
    settings, con = lake
    _land(settings, con, "device_events", [
        {"click_id": "c1", "device_is_mobile": True},
        {"click_id": "c2", "device_is_mobile": "sometimes"},
        {"click_id": "c3", "consent": {"ads": True}},
    ])
    load_stream(con, "device_events", "run1")
    rows = con.execute(
        "select click_id, device_is_mobile, _unmapped from raw.device_events order by click_id"
    ).fetchall()
    assert rows[0][1:] == (True, None)
    assert rows[1][1] is None and json.loads(rows[1][2])["device_is_mobile"] == "sometimes"
    assert json.loads(rows[2][2])["consent"] == {"ads": True}


def test_the_ledger_reconciles_and_a_second_load_loads_nothing(lake):
    settings, con = lake
    _land(settings, con, "geo_events", [{"click_id": "c1"}, {"geo_country": "DE"}, "{"])
    first = load_stream(con, "geo_events", "run1")
    second = load_stream(con, "geo_events", "run2")
    assert (first.files, second.files) == (1, 0)
    ledger = con.execute(
        "select rows_in, rows_loaded, rows_rejected from ops.load_ledger"
    ).fetchall()
    assert ledger == [(3, 1, 2)]
    assert con.execute("select count(*) from raw.geo_events").fetchone()[0] == 1


def test_a_load_that_fails_midway_leaves_nothing_behind(lake, monkeypatch):
    settings, con = lake
    _land(settings, con, "geo_events", [{"click_id": "c1"}], name="a")
    _land(settings, con, "geo_events", [{"click_id": "c2"}], name="b")
    real = load_mod.load_file
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    monkeypatch.setattr(load_mod, "load_file", crash_on_second)
    with pytest.raises(RuntimeError):
        load_stream(con, "geo_events", "run1")
    counts = con.execute(
        "select (select count(*) from raw.geo_events), (select count(*) from ops.load_ledger)"
    ).fetchone()
    assert counts == (0, 0)
    monkeypatch.setattr(load_mod, "load_file", real)
    retried = load_stream(con, "geo_events", "run1")
    assert retried.rows_loaded == 2
    assert con.execute("select count(*) from raw.geo_events").fetchone()[0] == 2


def test_the_snapshot_of_a_load_carries_its_batch_id(lake):
    settings, con = lake
    _land(settings, con, "geo_events", [{"click_id": "c1"}])
    result = load_stream(con, "geo_events", "run1")
    extra = con.execute(
        "select commit_extra_info from lake.snapshots() "
        "where commit_message like 'load geo_events %'"
    ).fetchone()[0]
    assert json.loads(extra)["batch_id"] == result.batch_id


DEVICE_LINES = [
    {"click_id": "c1", "os": "iOS", "device_is_mobile": True},
    {"click_id": "c2", "device_is_mobile": "sometimes"},  # an optional value that does not cast
    {"click_id": "c3", "consent": {"ads": True}},  # a field the contract does not know
    {"os": "Android"},  # the required click_id is missing
    {"click_id": " c5 ", "device_type": "tablet", "device_is_mobile": False},
    {"click_id": "c6", "os_name": None},
]


def _raw_rows(con, source_suffix):
    return con.execute(
        """
        select * exclude (_source_file, _batch_id, _loaded_at)
        from raw.device_events where _source_file like ? order by _line_no
        """,
        [f"%{source_suffix}"],
    ).fetchall()


def test_a_dense_file_loads_the_same_rows_as_one_read_line_by_line(lake):
    settings, con = lake
    dense = _land(settings, con, "device_events", DEVICE_LINES, name="dense")
    # the same lines and a trailing blank line: not dense, so every line goes through the
    # line-by-line reader
    lines = [json.dumps(r) for r in DEVICE_LINES] + [""]
    sparse = _land(settings, con, "device_events", lines, name="sparse")
    assert (dense.landed[0].lines_blank, sparse.landed[0].lines_blank) == (0, 1)
    result = load_stream(con, "device_events", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (12, 10, 2)
    rows = _raw_rows(con, "dense.jsonl")
    assert rows == _raw_rows(con, "sparse.jsonl")
    assert [(r[0], r[-2]) for r in rows] == [("c1", 1), ("c2", 2), ("c3", 3), ("c5", 5), ("c6", 6)]
    unmapped = {r[0]: json.loads(r[-3]) if r[-3] else None for r in rows}
    assert unmapped["c2"]["device_is_mobile"] == "sometimes"
    assert unmapped["c3"]["consent"] == {"ads": True}
    assert unmapped["c1"] is None and unmapped["c6"] is None
    rejected = con.execute(
        "select source_uri like '%/dense.jsonl', line_no, reason from ops.rejected_rows "
        "order by all"
    ).fetchall()
    assert rejected == [(False, 4, "missing click_id"), (True, 4, "missing click_id")]


def test_a_line_that_repeats_a_key_is_loaded_not_lost(lake):
    settings, con = lake
    twice = '{"click_id": "c4", "os_name": "iOS", "os_name": "Linux"}'
    _land(settings, con, "device_events", [
        {"click_id": "c1"}, '{"click_id": "c2", "os": "iOS", "os": "Linux"}', {"click_id": "c3"},
        twice,
    ])
    result = load_stream(con, "device_events", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    rows = con.execute("select click_id, _line_no, os_name, _unmapped::varchar "
                       "from raw.device_events order by 2").fetchall()
    assert [r[:2] for r in rows] == [("c1", 1), ("c2", 2), ("c3", 3), ("c4", 4)]
    # a known field given twice: its column holds the first value, the line keeps both
    assert rows[3][2] == "iOS" and "Linux" in rows[3][3]
    assert rows[0][3] is None and rows[2][3] is None


def test_a_load_leaves_no_data_file_the_lake_does_not_know(lake):
    settings, con = lake
    _land(settings, con, "device_events", DEVICE_LINES)
    load_stream(con, "device_events", "run1")
    known = {r[0] for r in con.execute(
        "select data_file from ducklake_list_files('lake', 'device_events', schema => 'raw')"
    ).fetchall()}
    written = {str(p) for p in (settings.home / "lake" / "raw" / "device_events").glob("*")}
    assert written == known and len(known) == 2  # the dense rows and the line-by-line rest


def test_a_file_landed_before_empty_lines_were_counted_loads_line_by_line(lake):
    settings, con = lake
    _land(settings, con, "device_events", DEVICE_LINES)
    con.execute("update ops.landed_files set lines_blank = null")  # as an older lake has it
    result = load_stream(con, "device_events", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (6, 5, 1)
    lines = con.execute("select _line_no from raw.device_events order by 1").fetchall()
    assert lines == [(1,), (2,), (3,), (5,), (6,)]
    files = con.execute(
        "select count(*) from ducklake_list_files('lake', 'device_events', schema => 'raw')"
    ).fetchone()[0]
    assert files == 1  # one pass for every line (the dense read would have made two)


def _data_files(con, stream):
    return con.execute(
        "select count(*) from ducklake_list_files('lake', ?, schema => 'raw')", [stream]
    ).fetchone()[0]


def _rows_by_file(con):
    return con.execute(
        "select regexp_extract(_source_file, '/(\\w+)\\.jsonl', 1), _line_no, click_id "
        "from raw.device_events order by all"
    ).fetchall()


def test_the_dense_files_of_a_batch_are_read_together_into_one_data_file(lake):
    settings, con = lake
    _land(settings, con, "device_events", DEVICE_LINES, name="a")
    _land(settings, con, "device_events", [{"click_id": f"b{i}"} for i in range(1, 4)], name="b")
    result = load_stream(con, "device_events", "run1")
    assert (result.files, result.rows_in, result.rows_loaded, result.rows_rejected) == (2, 9, 8, 1)
    assert _rows_by_file(con) == [
        ("a", 1, "c1"), ("a", 2, "c2"), ("a", 3, "c3"), ("a", 5, "c5"), ("a", 6, "c6"),
        ("b", 1, "b1"), ("b", 2, "b2"), ("b", 3, "b3"),
    ]
    # one data file for the lines of both files that fit whole, one for a's line-by-line rest
    assert _data_files(con, "device_events") == 2
    ledger = con.execute(
        "select regexp_extract(source_uri, '/(\\w+)\\.jsonl', 1), rows_in, rows_loaded, "
        "rows_rejected from ops.load_ledger order by 1"
    ).fetchall()
    assert ledger == [("a", 6, 5, 1), ("b", 3, 3, 0)]


def test_when_the_joint_read_fails_each_file_is_read_on_its_own(lake, monkeypatch):
    settings, con = lake
    _land(settings, con, "device_events", [{"click_id": "a1"}, {"click_id": "a2"}], name="a")
    _land(settings, con, "device_events", DEVICE_LINES, name="b")
    _land(settings, con, "device_events", [{"click_id": "c1"}], name="c")
    dense = load_mod._dense
    # a read of more than one file fails (as one unreadable file would make it)
    monkeypatch.setattr(load_mod, "_dense", lambda columns: dense(columns).replace(
        "select ", "select case when len($paths) > 1 then error('unreadable') end as _x, ", 1))
    result = load_stream(con, "device_events", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (9, 8, 1)
    assert _rows_by_file(con) == [
        ("a", 1, "a1"), ("a", 2, "a2"),
        ("b", 1, "c1"), ("b", 2, "c2"), ("b", 3, "c3"), ("b", 5, "c5"), ("b", 6, "c6"),
        ("c", 1, "c1"),
    ]
    assert _data_files(con, "device_events") == 4  # a, b's fitting lines, b's rest, c


def test_dense_files_past_the_group_size_go_to_a_data_file_of_their_own(lake, monkeypatch):
    settings, con = lake
    monkeypatch.setattr(load_mod, "DENSE_LINES", 4)  # room for one 3-line file per group
    _land(settings, con, "device_events", [{"click_id": f"a{i}"} for i in range(1, 4)], name="a")
    _land(settings, con, "device_events", [{"click_id": f"b{i}"} for i in range(1, 4)], name="b")
    result = load_stream(con, "device_events", "run1")
    assert (result.rows_in, result.rows_loaded) == (6, 6)
    assert _rows_by_file(con) == [
        ("a", 1, "a1"), ("a", 2, "a2"), ("a", 3, "a3"), ("b", 1, "b1"), ("b", 2, "b2"),
        ("b", 3, "b3"),
    ]
    assert _data_files(con, "device_events") == 2


GA_DDL = """
create table lake.raw.{name} (
    fullVisitorId varchar not null,
    visitId varchar,
    visitNumber bigint,
    totals json,
    hits json,
    _unmapped json,
    _source_file varchar not null,
    _line_no bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamptz not null,
    _source_date date not null
)
"""
GA_LINES = [
    {"fullVisitorId": "0123", "visitId": 1501583974, "visitNumber": "2",
     "totals": {"visits": "1", "pageviews": 3, "bounces": None},
     "hits": [{"hitNumber": 1, "page": {"pagePath": "/"}}, {"hitNumber": 2, "product": []}]},
    {"fullVisitorId": 4567, "visitId": "1501583975", "totals": {"visits": None}, "hits": []},
]


def test_nested_values_load_as_their_json_text_and_ids_as_their_digits(lake):
    settings, con = lake
    con.execute(GA_DDL.format(name="ga_test"))
    _land(settings, con, "ga_test", GA_LINES, name="dense")
    _land(settings, con, "ga_test", [json.dumps(r) for r in GA_LINES] + [""], name="sparse")
    result = load_stream(con, "ga_test", "run1")
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    rows = con.execute(
        "select regexp_extract(_source_file, '(\\w+)\\.jsonl', 1), fullVisitorId, visitId, "
        "visitNumber, totals, hits, _unmapped from raw.ga_test order by all"
    ).fetchall()
    for name in ("dense", "sparse"):
        first, second = [r[1:] for r in rows if r[0] == name]
        assert first[:3] == ("0123", "1501583974", 2)
        assert json.loads(first[3]) == GA_LINES[0]["totals"]
        assert json.loads(first[4]) == GA_LINES[0]["hits"]
        assert first[5] is None  # every field has its column
        assert second[:2] == ("4567", "1501583975")
        assert (json.loads(second[3]), json.loads(second[4])) == ({"visits": None}, [])
