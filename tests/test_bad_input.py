"""Bad input never stops ingestion: an undecodable line, an implausible event time, a duplicate
that disagrees and a file outside any `date=` folder are each named with a reason, the run
stays green, the good lines load, rows in = loaded + rejected, and the marts keep the truth."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
from support import clicklake

from clicklake import pipeline
from clicklake.config import load_settings
from clicklake.extract import extract_stream
from clicklake.generate import generate
from clicklake.lake import connect
from clicklake.load import load_stream

H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)
H1 = datetime(2024, 3, 1, 1, tzinfo=UTC)
HOUR = "date=2024-03-01/hour=00"
KPIS = ("events", "sessions", "visitors", "pageviews", "add_to_carts", "orders")


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent", **extra}


def _generate(home: Path, **kw) -> dict:
    return generate(home / "source", H0, kw.pop("hours", 1), events_per_hour=120, seed=3,
                    **kw)["truth"]


def _run(home: Path, *args: str, **env: str) -> None:
    result = clicklake(home, "run", "--start", "2024-03-01T00", "--end", "2024-03-01T01",
                       *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def _open(home: Path, **env: str) -> duckdb.DuckDBPyConnection:
    return connect(read_only=True, settings=load_settings(_env(home, **env)))


def _rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or {}).fetchall()


def _assert_truth(con, truth: dict) -> None:
    cols = ", ".join(KPIS)
    got = {str(r[0]): r[1:] for r in _rows(con, f"select date, {cols}, revenue "
                                                "from mart.daily_kpis")}
    assert sorted(got) == sorted(truth["days"])
    for day, want in truth["days"].items():
        assert got[day] == (*(want[k] for k in KPIS), Decimal(str(want["revenue"]))), day


def _assert_reconciles(con) -> None:
    """Per landed file: rows in = loaded + rejected, in the manifest, the ledger and raw."""
    off = _rows(con, """
        select f.landing_uri, f.lines_in, f.lines_invalid, l.rows_in, l.rows_loaded,
               l.rows_rejected
        from ops.landed_files f join ops.load_ledger l using (landing_uri)
        where f.lines_in <> l.rows_in or l.rows_in <> l.rows_loaded + l.rows_rejected
           or l.rows_rejected < f.lines_invalid""")
    assert off == []
    failed = _rows(con, "select check_name from ops.check_results "
                        "where status <> 'pass' and severity = 'error'")
    assert failed == []


def _rewrite(path: Path, edit) -> list[str]:
    """Replace a generated .jsonl.gz file's lines (bytes) by `edit(lines)`; return the new
    lines as text (undecodable bytes replaced)."""
    lines = gzip.decompress(path.read_bytes()).split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    new = edit(lines)
    path.write_bytes(gzip.compress(b"\n".join(new) + b"\n"))
    return [x.decode(errors="replace") for x in new]


def _bad_lines(lines: list[bytes]) -> list[bytes]:
    """Lines 3, 6 and 9 become undecodable: invalid UTF-8, a NUL byte, over 4 KiB."""
    out = list(lines)
    out.insert(2, b'{"event_id":"bad-utf8","click_id":"c","browser_name":"\xff",'
                  b'"event_timestamp":"2024-03-01T00:10:00Z"}')
    out.insert(5, b'{"event_id":"bad-nul","click_id":"c\x00",'
                  b'"event_timestamp":"2024-03-01T00:10:00Z"}')
    out.insert(8, b'{"event_id":"too-long","click_id":"c","browser_user_agent":"'
                  + b"x" * 5000 + b'","event_timestamp":"2024-03-01T00:10:00Z"}')
    return out


def _assert_bad_lines_rejected(con, source_name: str, good: list[str]) -> None:
    rejected = _rows(con, "select line_no, reason from ops.rejected_rows "
                          "where source_uri like '%' || $name order by line_no",
                     {"name": source_name})
    assert [(n, r.split(":")[0]) for n, r in rejected] == [
        (3, "invalid UTF-8"), (6, "NUL byte in the line"), (9, "line too long")]
    assert "4096" in rejected[2][1]
    # the good lines load with their own line numbers
    loaded = dict(_rows(con, "select _line_no, event_id from raw.browser_events "
                             "where _source_file like '%' || $name", {"name": source_name}))
    want = {i + 1: json.loads(line)["event_id"] for i, line in enumerate(good)
            if i + 1 not in (3, 6, 9)}
    assert loaded == want


def test_undecodable_lines_are_rejected_and_the_files_good_lines_load(tmp_path):
    truth = _generate(tmp_path)
    path = tmp_path / "source" / "browser_events" / HOUR / "part-0000.jsonl.gz"
    good = _rewrite(path, _bad_lines)
    _run(tmp_path, CLICKLAKE_MAX_LINE_BYTES="4096")
    con = _open(tmp_path)
    try:
        _assert_bad_lines_rejected(con, "part-0000.jsonl.gz", good)
        _assert_reconciles(con)
        _assert_truth(con, truth)
    finally:
        con.close()


def test_undecodable_lines_on_s3_are_rejected_and_the_good_lines_load(tmp_path, s3):
    source, lake_bucket = s3.new_bucket("source"), s3.new_bucket("lake")
    env = {"CLICKLAKE_SOURCE_URI": f"s3://{source}/source",
           "CLICKLAKE_LANDING_URI": f"s3://{lake_bucket}/landing",
           "CLICKLAKE_MAX_LINE_BYTES": "4096", **s3.env()}
    truth = _generate(tmp_path)
    client = s3.client()
    path = tmp_path / "source" / "browser_events" / HOUR / "part-0000.jsonl.gz"
    good = _rewrite(path, _bad_lines)
    for file in (tmp_path / "source").rglob("*.jsonl.gz"):
        client.put_object(Bucket=source, Key=f"source/{file.relative_to(tmp_path / 'source')}",
                          Body=file.read_bytes())
    settings = load_settings(_env(tmp_path, **env))
    con = connect(settings=settings)
    try:
        pipeline.run_hour(con, settings, H0)
        _assert_bad_lines_rejected(con, "part-0000.jsonl.gz", good)
        _assert_reconciles(con)
        _assert_truth(con, truth)
    finally:
        con.close()


def _tracker_line(event_id: str, ts: str) -> bytes:
    return json.dumps({"event_id": event_id, "click_id": "c-x", "event_type": "pageview",
                       "event_timestamp": ts}).encode()


def test_implausible_tracker_event_times_are_rejected_and_never_poison_the_lake(tmp_path):
    truth = _generate(tmp_path)
    path = tmp_path / "source" / "browser_events" / HOUR / "part-0000.jsonl.gz"
    _rewrite(path, lambda lines: [*lines[:3], _tracker_line("epoch", "1970-01-01T00:00:00Z"),
                                  _tracker_line("y9999", "9999-12-31T00:00:00Z"),
                                  _tracker_line("y10000", "10000-01-01T00:00:00Z"),
                                  *lines[3:]])
    _run(tmp_path)
    con = _open(tmp_path)
    try:
        rejected = _rows(con, "select line_no, reason from ops.rejected_rows order by line_no")
        assert [n for n, _ in rejected] == [4, 5, 6]
        assert rejected[0][1] == ("implausible event_timestamp: 1970-01-01 00:00:00 UTC is "
                                  "before CLICKLAKE_EARLIEST_EVENT_DATE 2000-01-01")
        for _, reason in rejected[1:]:
            assert reason.startswith("implausible event_timestamp: ")
            assert reason.endswith("more than 24 hours after the file arrived "
                                   "(CLICKLAKE_FUTURE_EVENT_HOURS)")
        _assert_reconciles(con)
        _assert_truth(con, truth)
    finally:
        con.close()
    result = clicklake(tmp_path, "rebuild")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_event_time_already_in_raw_does_not_make_every_run_fail(tmp_path):
    """A value that slipped into raw before load checked event times: runs and rebuilds
    still succeed and the marts keep the other days."""
    truth = _generate(tmp_path)
    _run(tmp_path)
    settings = load_settings(_env(tmp_path))
    con = connect(settings=settings)
    try:
        con.execute("""insert into raw.browser_events (event_id, click_id, event_timestamp,
                           _source_file, _line_no, _batch_id, _loaded_at, _source_date)
                       values ('y10000', 'c', '10000-01-01T00:00:00Z', 'x', 1, 'old-batch',
                               now(), '2024-03-01')""")
        con.execute("insert into ops.load_ledger values ('x', 'browser_events', 'x', 1, 1, 0, "
                    "'old-batch', 'old', now())")
    finally:
        con.close()
    for args in (("run", "--start", "2024-03-01T01", "--end", "2024-03-01T02"), ("rebuild",)):
        result = clicklake(tmp_path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
    con = _open(tmp_path)
    try:
        _assert_truth(con, truth)
    finally:
        con.close()


def test_implausible_ga4_and_ga360_event_times_are_rejected(tmp_path):
    day = tmp_path / "source"
    generate(day, H0, 1, events_per_hour=20, seed=3, format="ga4")
    generate(day, H0, 1, events_per_hour=20, seed=4, format="ga360")
    ga4 = next((day / "ga4_events").rglob("*.jsonl.gz"))
    ga360 = next((day / "ga_sessions").rglob("*.jsonl.gz"))
    lines = {}

    def spoil(field, value):
        def edit(raw):
            row = json.loads(raw[0])
            row[field] = value
            lines[field] = len(raw) + 1
            return [*raw, json.dumps(row).encode()]
        return edit

    _rewrite(ga4, spoil("event_timestamp", 0))  # microseconds: 1970-01-01
    _rewrite(ga360, spoil("visitStartTime", 253402214400))  # seconds: 9999-12-31
    _run(tmp_path)
    con = _open(tmp_path)
    try:
        rejected = dict(_rows(con, "select split_part(source_uri, '/', -3), "
                                   "line_no || ' ' || reason from ops.rejected_rows"))
        assert rejected == {
            "ga4_events": f"{lines['event_timestamp']} implausible event_timestamp: "
                          "1970-01-01 00:00:00 UTC is before CLICKLAKE_EARLIEST_EVENT_DATE "
                          "2000-01-01",
            "ga_sessions": f"{lines['visitStartTime']} implausible visitStartTime: "
                           "9999-12-31 00:00:00 UTC is more than 24 hours after the file "
                           "arrived (CLICKLAKE_FUTURE_EVENT_HOURS)",
        }
        assert _rows(con, "select count(*) from mart.daily_kpis "
                          "where year(date) not in (2024)") == [(0,)]
        _assert_reconciles(con)
    finally:
        con.close()


def test_a_duplicate_that_disagrees_is_reported_and_the_first_landed_copy_wins(tmp_path):
    truth = _generate(tmp_path)
    settings = load_settings(_env(tmp_path))
    folder = tmp_path / "source" / "browser_events" / HOUR
    original = json.loads(gzip.decompress((folder / "part-0000.jsonl.gz").read_bytes())
                          .split(b"\n")[0])
    con = connect(settings=settings)
    try:
        for stream in settings.streams:
            extract_stream(con, settings, stream, H0, H1, "r1")
        # a later file, named to sort first, repeats the event with other content
        changed = {**original, "browser_name": "Changed"}
        (folder / "a-dupes.jsonl").write_text(json.dumps(changed) + "\n")
        [late] = extract_stream(con, settings, "browser_events", H0, H1, "r2").landed
        assert late.source.uri.endswith("a-dupes.jsonl")
        # loaded together: which copy wins is decided by arrival, not by file name
        summary = pipeline.run_hour(con, settings, H0)
        assert summary.loaded["browser_events"].files == 2
    finally:
        con.close()
    con = _open(tmp_path)
    try:
        browser = _rows(con, "select browser_name from stage.events where event_id = $id",
                        {"id": original["event_id"]})
        assert browser == [(original["browser_name"],)]
        warned = _rows(con, "select failing_rows, severity from ops.check_results "
                            "where check_name = 'events_disagree'")
        assert warned == [(1, "warn")]
        _assert_truth(con, truth)
    finally:
        con.close()


def test_a_file_outside_any_date_folder_is_reported_not_silently_skipped(tmp_path):
    _generate(tmp_path)
    stray = tmp_path / "source" / "browser_events" / "stray.jsonl"
    stray.write_text(_tracker_line("s1", "2024-03-01T00:10:00Z").decode() + "\n")
    settings = load_settings(_env(tmp_path))
    con = connect(settings=settings)
    try:
        [(res, secs)] = pipeline.extract(con, settings, H0, H1, "r1",
                                         ("browser_events",)).values()
        assert res.refused == [(str(stray), "not under a date=YYYY-MM-DD folder")]
        message = pipeline.extract_step("browser_events", res, secs).message
        assert "not under a date=YYYY-MM-DD folder" in message
    finally:
        con.close()


def test_load_retries_a_failed_commit_on_a_fresh_connection(tmp_path):
    """A conflict on commit: the retry adds the data files through a new connection (DuckLake
    1.5.5 can crash adding them again on the connection whose commit failed)."""
    from clicklake import load as load_module

    _generate(tmp_path)
    settings = load_settings(_env(tmp_path))
    con = connect(settings=settings)
    used: list[int] = []
    real = load_module.load_file

    def conflict_once(cur, *args, **kw):
        used.append(id(cur))
        if len(used) == 1:
            raise duckdb.TransactionException("TransactionContext Error: write-write conflict")
        return real(cur, *args, **kw)

    try:
        extract_stream(con, settings, "geo_events", H0, H1, "r1")
        load_module.load_file = conflict_once
        try:
            result = load_stream(con, "geo_events", "r1", settings=settings)
        finally:
            load_module.load_file = real
        assert result.files == 1 and result.rows_loaded > 0
        assert len(used) == 2 and used[0] == id(con) != used[1]
        assert _rows(con, "select count(*) from ops.load_ledger") == [(1,)]
    finally:
        con.close()


def test_clean_files_with_event_times_load_on_the_fast_path(tmp_path, monkeypatch):
    """Checking event times keeps a clean file on the joint (dense) read: no line is read
    again one by one."""
    from clicklake import load as load_module

    _generate(tmp_path)
    settings = load_settings(_env(tmp_path))
    con = connect(settings=settings)
    by_line: list[str] = []
    real = load_module._prepare_lines
    monkeypatch.setattr(load_module, "_prepare_lines",
                        lambda *a, **k: by_line.append(a[2].landing_uri) or real(*a, **k))
    try:
        extract_stream(con, settings, "browser_events", H0, H1, "r1")
        result = load_stream(con, "browser_events", "r1", settings=settings)
        assert result.rows_loaded > 0 and result.rows_rejected == 0
        assert by_line == []
    finally:
        con.close()
