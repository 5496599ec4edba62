import gzip
import json
import zipfile
from datetime import UTC, datetime

import pytest

from clicklake.config import load_settings
from clicklake.extract import extract_stream, in_window, landing_name
from clicklake.lake import connect
from clicklake.storage import ObjectInfo

H0 = datetime(2024, 3, 1, 0, tzinfo=UTC)
H1 = datetime(2024, 3, 1, 1, tzinfo=UTC)
LINES = [
    '{"event_id": "e1", "event_timestamp": "2024-03-01T00:00:01Z", "click_id": "c1"}',
    "",
    "not json at all",
    '{"event_id": "e2", "event_timestamp": "2024-03-01T00:00:02Z", "click_id": "c1"}',
    "[1, 2]",
    '{"event_id": "e3", "event_timestamp": "2024-03-01T00:00:03Z", "click_id": "c1"',
]


@pytest.fixture
def lake(tmp_path):
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    con = connect(settings=settings)
    yield settings, con
    con.close()


def _drop(settings, rel, text, how="gz"):
    path = settings.home / "source" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "gz":
        path.write_bytes(gzip.compress(text.encode()))
    elif how == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("export.jsonl", text)
    else:
        path.write_text(text)
    return path


def test_valid_objects_land_and_invalid_lines_are_kept_with_line_and_reason(lake):
    settings, con = lake
    _drop(settings, "browser_events/date=2024-03-01/hour=00/part-0.jsonl.gz", "\n".join(LINES))
    result = extract_stream(con, settings, "browser_events", H0, H1, "run1")
    [landed] = result.landed
    assert (landed.lines_in, landed.lines_invalid) == (5, 3)
    assert landed.lines_blank == 4  # the blank line and the three invalid ones, emptied
    landing = open(landed.landing_uri).read().split("\n")
    # line numbers are kept: line N of landing is line N of the source
    assert json.loads(landing[0])["event_id"] == "e1"
    assert json.loads(landing[3])["event_id"] == "e2"
    assert [x for x in landing if x.strip()] == [LINES[0], LINES[3]]
    rejected = [json.loads(x) for x in open(landed.rejected_uri)]
    assert [(r["line_no"], r["reason"]) for r in rejected] == [
        (3, "invalid JSON"), (5, "not a JSON object"), (6, "invalid JSON")
    ]
    assert rejected[0]["line"] == "not json at all"


def test_an_object_version_is_landed_once(lake):
    settings, con = lake
    path = _drop(settings, "browser_events/date=2024-03-01/hour=00/a.jsonl", LINES[0], "plain")
    [first] = extract_stream(con, settings, "browser_events", H0, H1, "r1").landed
    assert first.lines_blank == 0  # dense: every line an object
    again = extract_stream(con, settings, "browser_events", H0, H1, "r2")
    assert (again.landed, again.skipped) == ([], 1)
    path.write_text(LINES[0] + "\n" + LINES[3])  # a new version of the same object
    third = extract_stream(con, settings, "browser_events", H0, H1, "r3")
    assert len(third.landed) == 1 and third.landed[0].lines_in == 2


def test_zip_members_land_as_jsonl(lake):
    settings, con = lake
    _drop(settings, "browser_events/date=2024-03-01/hour=00/x.zip", LINES[0], "zip")
    [landed] = extract_stream(con, settings, "browser_events", H0, H1, "r1").landed
    assert landed.landing_uri.endswith("x__export-" + landed.source.etag[:8] + ".jsonl")
    assert open(landed.landing_uri).read().strip() == LINES[0]


def test_a_late_file_in_an_earlier_hour_is_found_through_the_lookback(lake):
    settings, con = lake
    _drop(settings, "browser_events/date=2024-02-29/hour=23/late.jsonl", LINES[0], "plain")
    res = extract_stream(con, settings, "browser_events", H0, H1, "r1")
    assert len(res.landed) == 1
    _drop(settings, "browser_events/date=2024-03-03/hour=00/future.jsonl", LINES[0], "plain")
    assert extract_stream(con, settings, "browser_events", H0, H1, "r2").landed == []


def test_unsupported_files_are_reported_not_landed(lake):
    settings, con = lake
    _drop(settings, "browser_events/date=2024-03-01/hour=00/_SUCCESS", "", "plain")
    res = extract_stream(con, settings, "browser_events", H0, H1, "r1")
    assert res.landed == [] and res.ignored[0].endswith("_SUCCESS")


def test_the_window_covers_hour_folders_and_daily_exports():
    assert in_window("s3://b/s/date=2024-03-01/hour=00/p.jsonl", H0, H1)
    assert not in_window("s3://b/s/date=2024-03-01/hour=01/p.jsonl", H0, H1)
    assert in_window("s3://b/ga/date=2024-03-01/export.json.gz", H0, H1)
    assert not in_window("s3://b/s/elsewhere/p.jsonl", H0, H1)


def test_landing_names_follow_the_source_layout_and_version():
    obj = ObjectInfo("s3://src/browser_events/date=2024-03-01/hour=07/part-0.jsonl.gz", 10,
                     "0123456789abcdef")
    assert landing_name(obj) == "date=2024-03-01/hour=07/part-0-01234567.jsonl"


def test_a_daily_export_without_hour_folders_is_found_landed_and_dated(lake):
    from clicklake.extract import partition_of, source_objects
    from clicklake.load import _source_date

    settings, con = lake
    _drop(settings, "ga_sessions/date=2024-03-01/ga_sessions_20240301.json.gz", LINES[0])
    _drop(settings, "ga_sessions/date=2024-02-25/old.json.gz", LINES[0])  # past the lookback
    [obj] = source_objects(settings, "ga_sessions", H0, H1)
    assert obj.uri.endswith("date=2024-03-01/ga_sessions_20240301.json.gz")
    assert partition_of(obj.uri) == (datetime(2024, 3, 1).date(), None)
    assert landing_name(obj) == f"date=2024-03-01/ga_sessions_20240301-{obj.etag[:8]}.jsonl"
    assert _source_date(obj.uri) == datetime(2024, 3, 1).date()
    # a run of a later hour of the same day finds the day's file again (here: already landed)
    [landed] = extract_stream(con, settings, "ga_sessions", H0, H1, "r1").landed
    assert landed.landing_uri.endswith(f"ga_sessions/date=2024-03-01/ga_sessions_20240301-"
                                       f"{obj.etag[:8]}.jsonl")
    later = extract_stream(con, settings, "ga_sessions", datetime(2024, 3, 1, 23, tzinfo=UTC),
                           datetime(2024, 3, 2, tzinfo=UTC), "r2")
    assert (later.listed, later.skipped, later.landed) == (1, 1, [])


def test_parquet_landing_names_end_in_parquet():
    obj = ObjectInfo("s3://src/ga4_events/date=2024-03-01/000000000000.parquet", 10,
                     "0123456789abcdef")
    assert landing_name(obj) == "date=2024-03-01/000000000000-01234567.parquet"
    zipped = ObjectInfo("s3://src/ga4_events/date=2024-03-01/export.zip", 10, "0123456789abcdef")
    assert landing_name(zipped, "part/x.parquet") == "date=2024-03-01/export__x-01234567.parquet"
    assert landing_name(zipped, "x.jsonl.gz") == "date=2024-03-01/export__x-01234567.jsonl"


def test_a_key_that_climbs_out_of_its_stream_folder_is_refused_and_never_read(tmp_path, s3):
    from clicklake import pipeline

    source, secret, lake_bucket = (s3.new_bucket(p) for p in ("source", "secret", "lake"))
    settings = load_settings({
        "CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none",
        "CLICKLAKE_SOURCE_URI": f"s3://{source}/source",
        "CLICKLAKE_LANDING_URI": f"s3://{lake_bucket}/landing", **s3.env(),
    })
    client = s3.client()
    body = gzip.compress((LINES[0] + "\n").encode())
    hour = "source/browser_events/date=2024-03-01/hour=00/"
    client.put_object(Bucket=source, Key=hour + "part-0.jsonl.gz", Body=body)
    # resolved by a URL, these would read the secret bucket's object or another folder
    evil = [hour + f"../../../../../{secret}/creds.jsonl.gz", hour + "./again.jsonl.gz",
            hour + "/abs.jsonl.gz"]
    client.put_object(Bucket=secret, Key="creds.jsonl.gz", Body=body)
    for key in evil:
        client.put_object(Bucket=source, Key=key, Body=body)
    con = connect(settings=settings)
    try:
        [(res, secs)] = pipeline.extract(con, settings, H0, H1, "r1", ("browser_events",)).values()
        refused = {key.rsplit(f"{source}/", 1)[1]: why for key, why in res.refused}
        assert refused == {evil[0]: "a '..' segment", evil[1]: "an empty or '.' segment",
                           evil[2]: "an empty or '.' segment"}
        assert [f.source.uri for f in res.landed] == [f"s3://{source}/{hour}part-0.jsonl.gz"]
        assert "3 unsafe keys refused (never read)" in pipeline.extract_step(
            "browser_events", res, secs).message
        landed = con.execute("select count(*) from ops.landed_files").fetchone()[0]
        assert landed == 1
    finally:
        con.close()


def test_folder_paths_are_judged_like_keys():
    from clicklake.extract import unsafe_key

    folder = "/srv/source/browser_events"
    assert unsafe_key(f"{folder}/date=2024-03-01/hour=00/a.jsonl", folder) is None
    assert unsafe_key(f"{folder}/date=2024-03-01/../../secret/a.jsonl", folder) == "a '..' segment"
    assert unsafe_key("/srv/source/browser_events_old/a.jsonl", folder) == (
        "outside its stream's folder")
    assert unsafe_key(f"{folder}/date=2024-03-01\\..\\a.jsonl", folder) == "a backslash"
    assert unsafe_key(f"{folder}/date=2024-03-01/a\nb.jsonl", folder) == "a control character"
    assert unsafe_key(f"s3://b/{folder}/date=2024-03-01/a\x7f.jsonl", f"s3://b/{folder}") == (
        "a control character")


def test_a_link_out_of_a_local_stream_folder_or_a_name_with_a_newline_is_refused_and_never_read(
        tmp_path):
    from clicklake import pipeline

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path / "home"),
                              "CLICKLAKE_ENV_FILE": "/none"})
    hour = "browser_events/date=2024-03-01/hour=00"
    good = _drop(settings, f"{hour}/part-0.jsonl", LINES[0], "plain")
    secret = tmp_path / "secret.jsonl"  # outside the source folder: a user's file
    secret.write_text(LINES[1] + "\n")
    (good.parent / "part-1.jsonl").symlink_to(secret)
    (good.parent / "part-2.jsonl").symlink_to(good)  # a link within the folder is a file of it
    _drop(settings, f"{hour}/part\n3.jsonl", LINES[1], "plain")
    con = connect(settings=settings)
    try:
        [(res, secs)] = pipeline.extract(con, settings, H0, H1, "r1", ("browser_events",)).values()
        refused = {key.rsplit("/", 1)[1]: why for key, why in res.refused}
        assert refused == {"part-1.jsonl": "a link to a file outside its stream's folder",
                           "part\n3.jsonl": "a control character"}
        assert sorted(f.source.uri.rsplit("/", 1)[1] for f in res.landed) == [
            "part-0.jsonl", "part-2.jsonl"]
        assert "2 unsafe keys refused (never read)" in pipeline.extract_step(
            "browser_events", res, secs).message
        # nothing of the linked file reached the lake, not even as a rejected line
        read = con.execute("select count(*) from ops.landed_files where source_uri like "
                           "'%part-1%' or source_uri like '%3.jsonl'").fetchone()[0]
        assert read == 0
    finally:
        con.close()


def test_a_file_that_cannot_be_read_is_rejected_whole_and_the_other_streams_load(tmp_path):
    from clicklake import pipeline

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "/none"})
    folder = "date=2024-03-01/hour=00"
    good = gzip.compress((LINES[0] + "\n").encode())
    _drop(settings, f"device_events/{folder}/ok.jsonl",
          '{"click_id": "c1", "device_type": "mobile"}', "plain")
    _drop(settings, f"browser_events/{folder}/ok.jsonl", LINES[0], "plain")
    bad = {"random.jsonl.gz": b"\x8b\x1f not gzip at all", "cut.jsonl.gz": good[: len(good) // 2],
           "junk.zip": b"PK\x03\x04 not a zip"}
    for name, data in bad.items():
        path = settings.home / "source" / "browser_events" / folder / name
        path.write_bytes(data)
    con = connect(settings=settings)
    try:
        summary = pipeline.run_hour(con, settings, H0)  # no exception: the run succeeds
        assert summary.loaded["device_events"].rows_loaded == 1
        browser = summary.loaded["browser_events"]
        assert (browser.rows_in, browser.rows_loaded, browser.rows_rejected) == (4, 1, 3)
        reasons = dict(con.execute(
            "select regexp_extract(source_uri, '[^/]+$'), split_part(reason, ':', 1) "
            "from ops.rejected_rows").fetchall())
        assert reasons == dict.fromkeys(bad, "unreadable file")
        # the same broken versions are not tried again; a corrected upload is
        again = extract_stream(con, settings, "browser_events", H0, H1, "r2")
        assert (again.landed, again.skipped) == ([], 4)
        (settings.home / "source" / "browser_events" / folder / "cut.jsonl.gz").write_bytes(good)
        [fixed] = extract_stream(con, settings, "browser_events", H0, H1, "r3").landed
        assert (fixed.lines_in, fixed.lines_invalid) == (1, 0)
    finally:
        con.close()
