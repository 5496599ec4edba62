import pytest

from clicklake.transform import discover, parse_model


def _model(folder, name, header, body="select 1 as x"):
    path = folder / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + body + "\n")
    return path


def test_the_header_declares_grain_partition_dependencies_and_columns(tmp_path):
    path = _model(tmp_path / "stage", "events", (
        "-- stage.events: one row per event.\n-- partition: event_date\n"
        "-- depends_on: stage.page_rules, raw.browser_events\n-- column event_id: unique id"
    ))
    m = parse_model(path)
    assert m.name == "stage.events"
    assert m.description == "one row per event."
    assert m.partition == "event_date"
    assert m.depends_on == ["stage.page_rules", "raw.browser_events"]
    assert m.columns == {"event_id": "unique id"}


def test_models_run_in_declared_order_stage_before_mart(tmp_path):
    _model(tmp_path / "mart", "a_kpis", "-- mart.a_kpis: x")
    _model(tmp_path / "stage", "a_sessions",
           "-- stage.a_sessions: x\n-- depends_on: stage.z_events")
    _model(tmp_path / "stage", "z_events", "-- stage.z_events: x")
    order = [m.name for m in discover(tmp_path)]
    assert order.index("stage.z_events") < order.index("stage.a_sessions") < order.index(
        "mart.a_kpis"
    )


def test_a_cycle_or_an_unknown_dependency_is_a_clear_error(tmp_path):
    _model(tmp_path / "stage", "a", "-- stage.a: x\n-- depends_on: stage.b")
    _model(tmp_path / "stage", "b", "-- stage.b: x\n-- depends_on: stage.a")
    with pytest.raises(ValueError, match="cycle"):
        discover(tmp_path)
    (tmp_path / "stage" / "b.sql").write_text("-- stage.b: x\n-- depends_on: stage.nope\nselect 1")
    with pytest.raises(ValueError, match="unknown model 'stage.nope'"):
        discover(tmp_path)


def test_every_shipped_model_states_its_grain_and_every_column():
    models = discover()
    assert {"stage.events", "stage.sessions", "mart.daily_kpis"} <= {m.name for m in models}
    for m in models:
        if m.schema == "temp":  # a source format's private step, not a table of the lake
            continue
        assert m.description.startswith("one row per"), m.name
        assert m.columns, f"{m.name} documents no columns"


def test_a_unique_key_model_replaces_only_the_rows_of_the_keys_it_returns(tmp_path):
    from clicklake.config import load_settings
    from clicklake.lake import connect
    from clicklake.transform import build_together

    path = _model(tmp_path / "stage", "totals", "-- stage.totals: one row per key.\n"
                  "-- unique_key: k", "select * from (values ('a', 1), ('b', 2)) t(k, n) "
                  "where k in (select unnest($days::varchar[]))")
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path / "lake"), "CLICKLAKE_ENV_FILE": "-"})
    con = connect(settings=settings)
    model = parse_model(path)
    assert model.unique_key == "k"
    build_together(con, [model], ["a", "b"], settings, gate=lambda: None)  # type: ignore[arg-type]
    con.execute("update stage.totals set n = 10")
    build_together(con, [model], ["b"], settings, gate=lambda: None)  # type: ignore[arg-type]
    assert con.execute("from stage.totals order by k").fetchall() == [("a", 10), ("b", 2)]
    con.close()



def test_a_model_whose_columns_changed_says_to_rebuild(tmp_path):
    """A new version of an incremental model (a column more) cannot add its rows to the table
    an older version built: the error names the columns and the command that fixes it."""
    import duckdb

    from clicklake.config import load_settings
    from clicklake.lake import connect
    from clicklake.transform import build_together

    header = "-- stage.totals: one row per key.\n-- unique_key: k"
    path = _model(tmp_path / "stage", "totals", header, "select 'a' as k, 1 as n")
    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path / "lake"), "CLICKLAKE_ENV_FILE": "-"})
    con = connect(settings=settings)
    build_together(con, [parse_model(path)], ["a"], settings, gate=lambda: None)  # type: ignore[arg-type]
    _model(tmp_path / "stage", "totals", header, "select 'a' as k, 1 as n, 2 as m")
    with pytest.raises(duckdb.Error, match=r"stage.totals .*columns changed.*new: m\).*"
                       r"clicklake rebuild"):
        build_together(con, [parse_model(path)], ["a"], settings, gate=lambda: None)  # type: ignore[arg-type]
    con.close()

def test_a_failed_check_is_recorded_and_logged_as_a_warning(tmp_path, caplog):
    from clicklake import checks
    from clicklake.config import load_settings
    from clicklake.lake import connect

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "-"})
    con = connect(settings=settings)
    failed = checks.CheckResult("volume", "warn", 3, '[{"hour": "13"}]')
    with caplog.at_level("WARNING", logger="clicklake.checks"):
        checks.record(con, [failed, checks.CheckResult("unique", "error", 0, "")], "run-1")
    assert con.execute(
        "select check_name, status, failing_rows from ops.check_results order by 1"
    ).fetchall() == [("unique", "pass", 0), ("volume", "fail", 3)]
    assert [r.getMessage() for r in caplog.records] == [
        'check volume (warn) failed: 3 rows, e.g. [{"hour": "13"}]'
    ]
    con.close()


@pytest.mark.parametrize("tz, days", [
    ("UTC", ["2024-03-01"]),
    ("Europe/Berlin", ["2024-03-01", "2024-03-02"]),  # 23:59:59 and 00:00:00 local
    ("Asia/Kolkata", ["2024-03-02"]),  # +05:30: both are after local midnight
])
def test_the_days_a_load_touches_are_its_events_days_in_the_reporting_time_zone(
    tmp_path, tz, days
):
    import json
    from datetime import UTC, datetime

    from clicklake.config import load_settings
    from clicklake.extract import extract_stream
    from clicklake.lake import connect
    from clicklake.load import load_stream
    from clicklake.transform import affected_days, pending_batches

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "-",
                              "CLICKLAKE_TIMEZONE": tz})
    con = connect(settings=settings)
    source = settings.home / "source/browser_events/date=2024-03-01/hour=22/part-0.jsonl"
    source.parent.mkdir(parents=True)
    source.write_text("\n".join(json.dumps(
        {"event_id": f"e{i}", "click_id": "c1", "event_timestamp": ts}
    ) for i, ts in enumerate(["2024-03-01T22:59:59.999Z", "2024-03-01T23:00:00Z"])) + "\n")
    hour = datetime(2024, 3, 1, 22, tzinfo=UTC)
    extract_stream(con, settings, "browser_events", hour, hour.replace(hour=23), "r1")
    load_stream(con, "browser_events", "r1")
    found = affected_days(con, pending_batches(con), settings)
    assert [d.isoformat() for d in found] == days
    con.close()


def test_a_late_file_of_any_stream_touches_the_whole_visit_of_its_rows_however_late(tmp_path):
    """affected_days looks a batch's location, device and geo rows up near the batch first and
    further back only for those not found: a visit across midnight, files days late, an event
    that never came and a batch of products alone each give exactly their days."""
    import json
    from datetime import UTC, datetime, timedelta

    from clicklake.config import load_settings
    from clicklake.extract import extract_stream
    from clicklake.lake import connect
    from clicklake.load import load_stream
    from clicklake.transform import affected_days, pending_batches

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "-"})
    con = connect(settings=settings)
    done: set[str] = set()

    def batch(stream, at, rows):
        """Load `rows` as the stream's file of the hour `at`; its load batches."""
        folder = settings.home / f"source/{stream}/date={at:%Y-%m-%d}/hour={at:%H}"
        folder.mkdir(parents=True)
        (folder / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        run = f"r{len(done)}"
        extract_stream(con, settings, stream, at, at + timedelta(hours=1), run)
        load_stream(con, stream, run)
        new = set(pending_batches(con)) - done
        done.update(new)
        return [d.isoformat() for d in affected_days(con, sorted(new), settings)]

    def browser(event_id, click_id, ts):
        return {"event_id": event_id, "click_id": click_id, "event_timestamp": ts}

    day1 = datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert batch("browser_events", day1, [
        browser("e1", "c1", "2024-03-01T10:00:00Z"),
        browser("e2", "c1", "2024-03-01T10:05:00Z"),
    ]) == ["2024-03-01"]
    assert batch("browser_events", day1.replace(hour=23), [
        browser("e3", "c3", "2024-03-01T23:50:00Z")]) == ["2024-03-01"]
    # the visit's next event, after midnight: both days
    assert batch("browser_events", datetime(2024, 3, 2, 0, tzinfo=UTC), [
        browser("e4", "c3", "2024-03-02T00:10:00Z")]) == ["2024-03-01", "2024-03-02"]
    # a location row 4 days late (beyond the near and middle steps), a device row 2 days late,
    # a geo row of the visit across midnight, each of an event loaded earlier
    assert batch("location_events", datetime(2024, 3, 5, 12, tzinfo=UTC), [
        {"event_id": "e2", "page_url_path": "/"}]) == ["2024-03-01"]
    assert batch("device_events", datetime(2024, 3, 3, 8, tzinfo=UTC), [
        {"click_id": "c1", "device_type": "mobile"}]) == ["2024-03-01"]
    assert batch("geo_events", datetime(2024, 3, 2, 3, tzinfo=UTC), [
        {"click_id": "c3", "geo_country": "DE"}]) == ["2024-03-01", "2024-03-02"]
    # rows of events and visits that never arrived change no day
    assert batch("location_events", datetime(2024, 3, 6, 1, tzinfo=UTC), [
        {"event_id": "e99"}]) == []
    assert batch("device_events", datetime(2024, 3, 6, 2, tzinfo=UTC), [
        {"click_id": "c99"}]) == []
    # products alone: every day with an event from their change on
    assert batch("products", datetime(2024, 3, 6, 3, tzinfo=UTC), [
        {"product_id": "1", "price": 9.5, "updated_at": "2024-03-01T23:00:00Z"}
    ]) == ["2024-03-01", "2024-03-02"]
    # a late browser file whose location rows came first: its visit's days
    assert batch("location_events", datetime(2024, 3, 6, 4, tzinfo=UTC), [
        {"event_id": "e5"}]) == []
    assert batch("browser_events", datetime(2024, 3, 6, 5, tzinfo=UTC), [
        browser("e5", "c1", "2024-03-01T10:30:00Z")]) == ["2024-03-01"]
    con.close()


def test_a_build_of_several_days_writes_each_table_in_day_order(tmp_path):
    """A rebuild or backfill writes the days' rows in day order, so each Parquet row group
    holds few days and a later run reading one day skips the rest by their statistics."""
    from datetime import UTC, datetime

    from support import build_history

    from clicklake.config import load_settings
    from clicklake.lake import connect

    settings = load_settings({"CLICKLAKE_HOME": str(tmp_path), "CLICKLAKE_ENV_FILE": "-"})
    build_history(settings, datetime(2024, 3, 1, tzinfo=UTC), 4, events_per_hour=60)
    con = connect(settings=settings)
    for table, column in [("stage.events", "event_date"), ("stage.sessions", "session_date"),
                          ("mart.hourly_traffic", "date")]:
        schema, name = table.split(".")
        files = [f for (f,) in con.execute(
            f"select data_file from ducklake_list_files('lake', '{name}', schema => '{schema}')"
        ).fetchall()]
        days, breaks = con.execute(
            f"select count(distinct {column}), count(*) filter (where {column} < before) "
            f"from (select {column}, lag({column}) over (order by file_row_number) as before "
            f"from read_parquet($f, file_row_number = true))", {"f": files[0]}).fetchone()
        assert len(files) == 1 and days >= 4 and breaks == 0, (table, len(files), days, breaks)
    con.close()
