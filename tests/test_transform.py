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
