"""The dashboard shows what the marts hold: every page renders on a built lake, the numbers it
shows equal direct queries of the marts for the same filters, an empty lake gets a message,
and the dashboard's connection cannot change the lake.

Pages run in-process through Streamlit's AppTest, against a lake built for this module: three
hours of shop traffic across midnight (two days, so the Overview has a previous period).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from support import build_lake

from clicklake import dashboard, formatting
from clicklake import dashboard_ui as ui
from clicklake.config import load_settings
from clicklake.lake import connect

APP = Path(__file__).resolve().parents[1] / "streamlit" / "app.py"
START = datetime(2024, 3, 4, 23, tzinfo=UTC)
HOURS = 3
DAY1, DAY2 = date(2024, 3, 4), date(2024, 3, 5)
PAGES = ("overview", "funnel", "acquisition", "products", "audience", "behaviour", "cohorts",
         "data_health", "history")


def lake_env(home: Path) -> dict[str, str]:
    """CLICKLAKE_* settings naming only `home` (no .env, no server settings leak in)."""
    return {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": str(home / "no.env")}


def use_lake(mp: pytest.MonkeyPatch, home: Path) -> None:
    for name in [k for k in os.environ if k.startswith("CLICKLAKE_")]:
        mp.delenv(name)
    for name, value in lake_env(home).items():
        mp.setenv(name, value)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A small built lake (with malformed lines, so Data health has rejections to show); the
    process environment points at it while this module's tests run."""
    yield from served_lake(tmp_path_factory.mktemp("dashboard-lake"), seed=11,
                           faults=("malformed", "duplicates"))


def served_lake(home: Path, start: datetime = START, hours: int = HOURS,
                **build: object) -> Iterator[duckdb.DuckDBPyConnection]:
    """Build `hours` hours from `start` under `home` (`build`: build_lake's seed and faults),
    point the process environment at it, and yield a reader until the caller's module ends."""
    settings = load_settings(lake_env(home))
    build_lake(settings, start, hours, **build)
    with pytest.MonkeyPatch.context() as mp:
        use_lake(mp, home)
        reader = connect(read_only=True, settings=settings)
        try:
            yield reader
        finally:
            reader.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchone()


def app(page: str = "overview") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def frame_with(at: AppTest, column: str, nth: int = 0):
    """The nth dataframe on the page that has `column`."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) > nth, f"no dataframe with a {column!r} column"
    return frames[nth]


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# -- every page ----------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_numbers_without_an_exception(lake, page):
    at = app(page)
    no_errors(at)
    shown = len(at.metric) + len(at.dataframe) + len(at.get("vega_lite_chart"))
    assert shown >= 2, f"{page} shows no metric, table or chart"
    assert not [i for i in at.info if "No data yet" in i.value]


def test_a_page_file_run_on_its_own_renders_its_sidebar_and_numbers(lake):
    at = AppTest.from_file(str(APP.parent / "app_pages" / "overview.py"), default_timeout=60)
    at.run()
    no_errors(at)
    at.multiselect(key="devices").set_value(["desktop"]).run()
    (sessions,) = one(lake, "select sum(sessions) from mart.hourly_traffic "
                            "where device_type = 'desktop'")
    assert metrics(at)["Sessions"][0] == f"{sessions:,}"


def test_there_are_at_least_eight_pages_one_file_each():
    pages = sorted(p.stem for p in (APP.parent / "app_pages").glob("*.py"))
    assert pages == sorted(PAGES)
    assert all(f'"app_pages/{p}.py"' in APP.read_text() for p in PAGES)


# -- the numbers equal the marts ---------------------------------------------------------------


def test_overview_kpis_equal_the_marts_for_the_default_period(lake):
    at = app()
    first, last = one(lake, "select min(date), max(date) from mart.daily_kpis")
    assert (first, last) == (DAY1, DAY2)  # the default range: the last 7 days there are
    sessions, orders, revenue = one(
        lake, "select sum(sessions), sum(orders), sum(revenue) from mart.daily_kpis")
    (visitors,) = one(lake, "select count(distinct visitor_id) from stage.sessions")
    shown = metrics(at)
    assert sessions > 0 and orders > 0
    assert shown["Sessions"][0] == f"{sessions:,}"
    assert shown["Orders"][0] == f"{orders:,}"
    assert shown["Revenue"][0] == f"€{revenue:,.2f}"  # the default CLICKLAKE_CURRENCY
    assert shown["Visitors"][0] == f"{visitors:,}"
    assert shown["Conversion"][0] == f"{orders / sessions:.1%}"
    assert shown["Avg order value"][0] == f"€{float(revenue) / orders:,.2f}"


def test_overview_compares_a_day_with_the_day_before(lake):
    at = app()
    at.date_input(key="dates").set_value((DAY2, DAY2)).run()
    no_errors(at)
    day = dict(lake.execute("select date, sessions from mart.daily_kpis").fetchall())
    shown = metrics(at)
    assert shown["Sessions"] == (f"{day[DAY2]:,}", f"{day[DAY2] / day[DAY1] - 1:+.1%}")


def test_an_unchanged_kpi_reads_as_neutral_not_as_a_green_rise():
    assert ui.change(120, 120) == ui.change(0.05, 0.05, rate=True) == "no change"
    assert ui.change(100_000, 100_001) == "±0.0%"  # moved less than the decimals show
    assert ui.change(0.05, 0.05 + 1e-6, rate=True) == "±0.0 pp"
    assert ui.change(110, 100) == "+10.0%" and ui.change(90, 100) == "-10.0%"
    assert ui.change(0.06, 0.05, rate=True) == "+1.0 pp"
    assert ui.change(5, 0) is None and ui.change(5, None) is None
    assert ui.change(float("nan"), 3) is None

    def card(now, before):
        import streamlit as st  # noqa: PLC0415 — runs inside AppTest's script

        from clicklake import dashboard_ui as ui  # noqa: PLC0415
        delta = ui.change(now, before)
        st.metric("Sessions", now, delta, **ui.delta_style(delta))

    shown = {}
    for now, before in ((120, 120), (100_000, 100_001), (130, 120), (110, 120)):
        at = AppTest.from_function(card, args=(now, before)).run()
        (m,) = at.metric
        shown[now] = (m.delta, m.proto.color, m.proto.direction)
    proto = type(at.metric[0].proto)
    grey, none = proto.MetricColor.GRAY, proto.MetricDirection.NONE
    assert shown[120] == ("no change", grey, none)
    assert shown[100_000] == ("±0.0%", grey, none)
    assert shown[130] == ("+8.3%", proto.MetricColor.GREEN, proto.MetricDirection.UP)
    assert shown[110] == ("-8.3%", proto.MetricColor.RED, proto.MetricDirection.DOWN)


def y_fields(spec: dict) -> set[str]:
    """The measures a Vega-Lite chart draws on its y axes (every layer's)."""
    own = {spec["encoding"]["y"]["field"]} if "y" in spec.get("encoding", {}) else set()
    return own.union(*(y_fields(layer) for layer in spec.get("layer", [])))


def test_overview_draws_each_measure_on_its_own_chart_with_its_comparison(lake):
    at = app_at({"preset": "today"})  # 05 Mar, compared with 04 Mar
    no_errors(at)
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    measures = [y_fields(spec) for spec in specs]
    assert all(len(m) == 1 for m in measures), measures  # never two scales on one axis
    assert [m.pop() for m in measures[:4]] == ["sessions", "conversion_rate", "revenue",
                                               "orders"]
    # the daily charts carry the day before as a dashed line on the same axis
    dashed = [any(layer["mark"].get("strokeDash") for layer in spec["layer"])
              for spec in specs[:4]]
    assert dashed == [True] * 4


def colour_scales(at: AppTest) -> dict[str, dict[str, str]]:
    """Per field coloured by category on the page's charts: each value's colour."""
    found = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        for layer in [spec, *spec.get("layer", [])]:
            color = layer.get("encoding", {}).get("color", {})
            if "scale" in color and "domain" in color["scale"]:
                found[color["field"]] = dict(zip(color["scale"]["domain"],
                                                 color["scale"]["range"], strict=True))
    return found


@pytest.mark.parametrize(("page", "field", "dimension"), [
    ("products", "category", "category"), ("behaviour", "page_type", "page_type"),
    ("funnel", "segment", "source"),
])
def test_charts_colour_a_category_by_its_fixed_colour(lake, page, field, dimension):
    at = app(page)
    no_errors(at)
    scale = colour_scales(at)[field]
    assert scale == formatting.category_colours(scale, dimension)
    # whatever else the lake holds: a known value has the colour of its place in its list
    for value, colour in scale.items():
        if value in formatting.CATEGORY_DOMAINS[dimension]:
            place = formatting.CATEGORY_DOMAINS[dimension].index(value)
            assert colour == formatting.PALETTE[place]


def test_overview_with_filters_equals_the_traffic_mart_for_the_same_filters(lake):
    source, device = one(lake, """
        select utm_source, device_type from mart.hourly_traffic
        where date = $1 group by all order by sum(orders) desc, 1, 2 limit 1""", [DAY2])
    at = app()
    at.date_input(key="dates").set_value((DAY2, DAY2))
    at.multiselect(key="sources").set_value([source])
    at.multiselect(key="devices").set_value([device]).run()
    no_errors(at)
    sessions, orders, revenue = one(lake, """
        select sum(sessions), sum(orders), sum(revenue) from mart.hourly_traffic
        where date = $1 and utm_source = $2 and device_type = $3""", [DAY2, source, device])
    (visitors,) = one(lake, """
        select count(distinct visitor_id) from stage.sessions
        where session_date = $1 and coalesce(utm_source, '(none)') = $2
          and coalesce(device_type, '(unknown)') = $3""", [DAY2, source, device])
    (all_sessions,) = one(lake, "select sessions from mart.daily_kpis where date = $1", [DAY2])
    shown = metrics(at)
    assert 0 < sessions < all_sessions
    assert shown["Sessions"][0] == f"{sessions:,}"
    assert shown["Orders"][0] == f"{orders:,}"
    assert shown["Revenue"][0] == f"€{revenue:,.2f}"
    assert shown["Visitors"][0] == f"{visitors:,}"


def test_funnel_steps_equal_the_funnel_mart_for_a_device(lake):
    (device,) = one(lake, "select min(device_type) from mart.funnel_daily")
    at = app("funnel")
    at.multiselect(key="devices").set_value([device]).run()
    no_errors(at)
    expected = dict(lake.execute("""
        select step, sum(sessions) from mart.funnel_daily where device_type = $1
        group by step""", [device]).fetchall())
    shown = frame_with(at, "step_conversion")
    named = {formatting.funnel_step(step): n for step, n in expected.items()}  # by meaning
    assert dict(zip(shown["step"], shown["sessions"], strict=True)) == named
    assert list(shown["step"])[0] == "Browsed" and list(shown["step"])[-1] == "Purchased"


def test_acquisition_table_and_both_attribution_models_equal_the_marts(lake):
    at = app("acquisition")
    no_errors(at)
    table = frame_with(at, "bounce_rate")
    sessions, revenue = one(lake, "select sum(sessions), sum(revenue) from mart.acquisition_daily")
    assert table["sessions"].sum() == sessions
    assert round(table["revenue"].sum(), 2) == float(revenue)
    for model in dashboard.ATTRIBUTION_MODELS:
        at.segmented_control(key="attribution_model").set_value(model).run()
        credited = frame_with(at, "revenue_share")
        (expected,) = one(lake, "select sum(revenue) from mart.attribution where model = $1",
                          [model])
        assert round(credited["revenue"].sum(), 2) == float(expected), model


def test_products_tables_equal_the_product_mart(lake):
    at = app("products")
    no_errors(at)
    top = frame_with(at, "product_name")
    best, best_revenue = one(lake, """
        select product_id, sum(revenue) from mart.product_performance_daily
        group by product_id order by 2 desc, product_id limit 1""")
    assert (top["product_id"].iloc[0], top["revenue"].iloc[0]) == (best, float(best_revenue))
    (revenue,) = one(lake, "select sum(revenue) from mart.product_performance_daily")
    categories = frame_with(at, "category", nth=1)
    assert round(categories["revenue"].sum(), 2) == float(revenue)
    bands = frame_with(at, "price_band")
    assert bands["add_to_carts"].sum() == one(
        lake, "select sum(add_to_carts) from mart.product_performance_daily")[0]


def test_audience_countries_equal_the_audience_mart_for_a_device(lake):
    (device,) = one(lake, "select min(device_type) from mart.audience_daily")
    at = app("audience")
    at.multiselect(key="devices").set_value([device]).run()
    no_errors(at)
    expected = dict(lake.execute("""
        select geo_country, sum(sessions) from mart.audience_daily where device_type = $1
        group by all""", [device]).fetchall())
    countries = at.dataframe[0].value
    named = {formatting.country(code): n for code, n in expected.items()}  # "Germany (DE)"
    assert dict(zip(countries["value"], countries["sessions"], strict=True)) == named


def test_behaviour_pages_paths_and_session_lengths_equal_the_lake(lake):
    at = app("behaviour")
    no_errors(at)
    top_page, views = one(lake, """
        select page_path, sum(pageviews) from mart.pages_daily
        group by all order by 2 desc, 1 limit 1""")
    pages = frame_with(at, "page_type")
    assert (pages["page_path"].iloc[0], pages["pageviews"].iloc[0]) == (top_page, views)
    top_paths = """
        select path, sum(sessions) from mart.session_paths where converted or not $1
        group by path order by 2 desc, 1 limit 15"""
    # the converting visits' paths (tests/test_paths.py checks the views comparing them)
    shown = frame_with(at, "path")
    assert "revenue" in shown.columns
    expected = lake.execute(top_paths, [True]).fetchall()
    assert list(zip(shown["path"], shown["sessions"], strict=True)) == expected
    median, p90 = one(lake, """
        select median(duration_s), quantile_cont(duration_s, 0.9) from stage.sessions""")
    assert metrics(at)["Median"][0] == formatting.seconds(median)
    assert metrics(at)["90th percentile"][0] == formatting.seconds(p90)


def test_cohorts_heat_map_covers_the_cohort_mart(lake):
    at = app("cohorts")
    no_errors(at)
    (rows,) = one(lake, "select count(*) from mart.cohort_retention_weekly")
    assert rows > 0
    assert len(at.dataframe[0].value) == rows
    assert len(at.get("vega_lite_chart")) == 1


def test_data_health_shows_streams_runs_rejections_checks_and_snapshots(lake):
    at = app("data_health")
    no_errors(at)
    streams = lake.execute("select distinct stream from ops.load_ledger order by 1").fetchall()
    assert sorted(frame_with(at, "minutes_ago")["stream"]) == [s for (s,) in streams]
    (runs,) = one(lake, "select count(distinct run_id) from ops.runs")
    shown_runs = frame_with(at, "transform_s")
    assert len(shown_runs) == runs == HOURS
    assert (shown_runs["rows_loaded"] > 0).all()
    (rejected,) = one(lake, "select count(*) from ops.rejected_rows")
    assert rejected > 0
    assert frame_with(at, "reason")["rows"].sum() == rejected
    (checks,) = one(lake, "select count(distinct check_name) from ops.check_results")
    assert len(frame_with(at, "check_name")) == checks > 0
    (latest,) = one(lake, "select max(snapshot_id) from ducklake_snapshots('lake')")
    snapshots = frame_with(at, "snapshot_id")
    assert snapshots["snapshot_id"].iloc[0] == latest
    assert snapshots["changes"].str.contains("mart.daily_kpis").any()
    assert metrics(at)["Checks passing"][0] == f"{checks} / {checks}"


def test_a_page_says_which_chosen_filters_its_marts_cannot_apply(lake):
    at = app("products")
    at.multiselect(key="devices").set_value(["mobile"]).run()
    no_errors(at)
    assert any("not filtered by device" in c.value for c in at.caption)
    at.switch_page("app_pages/audience.py").run()
    assert not any("not filtered by" in c.value for c in at.caption)


# -- filters are values, never SQL -------------------------------------------------------------


def test_a_filter_value_is_bound_not_spliced_into_the_sql(lake):
    hostile = dashboard.Filters(DAY1, DAY2, sources=("x') or true or ('",))
    assert dashboard.kpis(lake, hostile)["sessions"] == 0
    assert dashboard.kpis(lake, dashboard.Filters(DAY1, DAY2))["sessions"] > 0


def test_a_query_over_every_format_reads_only_the_formats_with_data(lake):
    """The day's files (History) read each source format's raw events; on this tracker lake
    only the tracker's are named (a never-written raw table costs a catalog query per column
    to plan), and the rows are those of the query over every format."""
    mine, every = dashboard.query_sql(lake, "day_files"), dashboard.queries()["day_files"]
    assert "raw.browser_events" in mine and "raw.browser_events" in every
    assert "raw.ga4_events" not in mine and "raw.ga_sessions" not in mine
    assert "raw.ga4_events" in every and "raw.ga_sessions" in every
    params = {"day": DAY1, "last": dashboard.current_snapshot(lake), "late_days": 2,
              "tz": "UTC"}
    rows = [lake.execute(sql, params).fetchall() for sql in (mine, every)]
    assert rows[0] == rows[1] and rows[0]


def test_every_page_query_answers_for_a_filter_of_two_devices(lake):
    """Each page's query answers with rows (how fast is `make bench`'s section 5: tests assert
    no timings)."""
    f = dashboard.Filters(DAY1, DAY2, devices=("desktop", "mobile"))
    calls = [
        lambda: dashboard.kpis(lake, f), lambda: dashboard.daily_trend(lake, f),
        lambda: dashboard.hourly_trend(lake, f), lambda: dashboard.funnel_by(lake, f, "source"),
        lambda: dashboard.acquisition(lake, f),
        lambda: dashboard.attribution(lake, f, "last_non_direct"),
        lambda: dashboard.top_products(lake, f), lambda: dashboard.price_bands(lake, f),
        lambda: dashboard.audience_by(lake, f, "browser"), lambda: dashboard.regions(lake, f),
        lambda: dashboard.pages(lake, f, "exits"), lambda: dashboard.paths(lake, f),
        lambda: dashboard.session_lengths(lake, f), lambda: dashboard.cohorts(lake, f),
        lambda: dashboard.recent_runs(lake), lambda: dashboard.snapshots(lake),
    ]
    for call in calls:
        assert len(call()) > 0


# -- no data, broken connections, read-only ----------------------------------------------------


@pytest.mark.parametrize("page", ["overview", "funnel", "data_health"])
def test_an_empty_lake_home_shows_the_no_data_message_not_a_traceback(tmp_path, page):
    with pytest.MonkeyPatch.context() as mp:
        use_lake(mp, tmp_path)
        at = app(page)
    assert not at.exception
    assert any("No data yet" in i.value and "make demo" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


def test_a_lake_without_marts_shows_the_no_data_message(tmp_path):
    connect(settings=load_settings(lake_env(tmp_path))).close()  # catalog and ops, no marts
    with pytest.MonkeyPatch.context() as mp:
        use_lake(mp, tmp_path)
        at = app("products")
    assert not at.exception
    assert any("No data yet" in i.value for i in at.info)


def test_a_mart_that_breaks_the_contract_shows_one_line_not_a_traceback(tmp_path):
    con = connect(settings=load_settings(lake_env(tmp_path)))
    con.execute("create table mart.daily_kpis as select date '2024-03-01' as date")
    con.execute("""create table mart.hourly_traffic as select 'google' as utm_source,
                   'mobile' as device_type, 'DE' as geo_country""")
    con.execute("create table mart.funnel_daily as select date '2024-03-01' as date")
    con.close()
    with pytest.MonkeyPatch.context() as mp:
        use_lake(mp, tmp_path)
        at = app("funnel")
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("The dashboard cannot read the lake: Binder Error")
    assert "\n" not in error and "Traceback" not in error


def test_a_dead_cached_connection_is_replaced_once_and_the_page_still_renders(lake):
    ui._connection(ui.lake_key()).close()  # as if the catalog connection had dropped
    ui.refresh()
    at = app()
    no_errors(at)
    assert metrics(at)["Sessions"][0] != "–"


def test_the_dashboard_connection_cannot_write(lake):
    con = ui._connection(ui.lake_key())
    (before,) = one(lake, "select max(snapshot_id) from ducklake_snapshots('lake')")
    cur = con.cursor()
    cur.execute("use lake")
    for sql in ("insert into ops.runs (run_id, step, started_at, finished_at, status) "
                "values ('x', 'x', now(), now(), 'ok')",
                "create table mart.sneaky as select 1 as x",
                "delete from mart.daily_kpis"):
        with pytest.raises(duckdb.Error, match="(?i)read.only"):
            cur.execute(sql)
    cur.close()
    (after,) = one(lake, "select max(snapshot_id) from ducklake_snapshots('lake')")
    assert after == before
    assert one(lake, "select count(*) from mart.daily_kpis")[0] == 2


# -- time, links and downloads -----------------------------------------------------------------


def app_at(query: dict[str, str | list[str]], page: str = "overview") -> AppTest:
    """The app opened from a link with these query parameters."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query)
    at.run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def test_a_link_opens_its_preset_comparison_and_filters_and_a_change_updates_it(lake):
    device = one(lake, "select device_type from mart.hourly_traffic where date = $1 "
                       "group by all order by sum(sessions) desc limit 1", [DAY1])[0]
    at = app_at({"preset": "yesterday", "compare": "none", "device": device})
    no_errors(at)
    assert at.selectbox(key="preset").value == "yesterday"
    assert at.date_input(key="dates").value == (DAY1, DAY1)  # the day before the newest
    assert at.multiselect(key="devices").value == [device]
    (sessions,) = one(lake, "select sum(sessions) from mart.hourly_traffic "
                            "where date = $1 and device_type = $2", [DAY1, device])
    shown = metrics(at)
    assert shown["Sessions"][0] == f"{sessions:,}" and not shown["Sessions"][1]  # no delta
    assert any("04 Mar 2024 (1 day)" in c.value for c in at.caption)
    assert any("Today = the newest day in the lake, 05 Mar 2024" in c.value for c in at.caption)
    at.selectbox(key="comparison").set_value("previous")
    at.multiselect(key="devices").set_value([]).run()
    no_errors(at)
    assert dict(at.query_params) == {"preset": "yesterday", "compare": "previous"}
    at.date_input(key="dates").set_value((DAY1, DAY2)).run()
    assert dict(at.query_params) == {"preset": "custom", "start": "2024-03-04",
                                     "end": "2024-03-05", "compare": "previous"}


def test_a_link_value_the_data_does_not_have_is_dropped_with_one_line(lake):
    at = app_at({"preset": "fortnight", "country": ["DE", "Atlantis"]})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("fortnight" in w for w in warnings)
    assert any("'Atlantis'" in w for w in warnings)
    assert at.selectbox(key="preset").value == "last_7"


def test_medium_campaign_and_product_filters_apply_where_the_marts_have_them(lake):
    medium, campaign = one(lake, """
        select utm_medium, utm_campaign from mart.acquisition_daily group by all
        order by sum(sessions) desc, 1, 2 limit 1""")
    at = app_at({"medium": medium, "campaign": campaign}, "acquisition")
    no_errors(at)
    channels = frame_with(at, "utm_medium")
    assert set(channels["utm_medium"]) == {medium}
    assert set(channels["utm_campaign"]) == {campaign}
    (sessions,) = one(lake, "select sum(sessions) from mart.acquisition_daily "
                            "where utm_medium = $1 and utm_campaign = $2", [medium, campaign])
    assert channels["sessions"].sum() == sessions
    at.switch_page("app_pages/overview.py").run()
    assert any("not filtered by medium, campaign" in c.value for c in at.caption)
    product = one(lake, "select product_id from mart.product_performance_daily "
                        "group by 1 order by sum(revenue) desc, 1 limit 1")[0]
    at = app_at({"product": product}, "products")
    no_errors(at)
    assert list(frame_with(at, "product_id")["product_id"]) == [product]
    assert any("filters that apply here: dates, product" in c.value for c in at.caption)


def test_last_year_comparison_shows_no_delta_when_that_period_has_no_data(lake):
    at = app_at({"preset": "today", "compare": "year"})
    no_errors(at)
    sessions, delta = metrics(at)["Sessions"]
    assert sessions != "–" and not delta
    # no card claims a change (nor "no change") against a period without traffic
    assert [d for _, d in metrics(at).values() if d] == []
    assert any("07 Mar 2023" in c.value for c in at.caption)  # 364 days before, a Tuesday


@pytest.mark.parametrize("page", ["overview", "acquisition", "products", "audience", "cohorts"])
def test_every_table_has_a_csv_download(lake, page):
    at = app(page)
    no_errors(at)
    assert len(at.get("download_button")) == len(at.dataframe) >= 1


def test_a_csv_download_equals_the_table_shown_in_raw_values(lake):
    at = app("products")
    shown = frame_with(at, "product_id")
    csv = pd.read_csv(io.BytesIO(ui.csv_bytes(dashboard.top_products(
        lake, dashboard.Filters(DAY1, DAY2), 20)[list(shown.columns)])),
        dtype={"product_id": str})
    assert list(csv.columns) == list(shown.columns)
    assert list(csv["product_id"]) == list(shown["product_id"])
    assert list(csv["units"]) == list(shown["units"])
    # rates are fractions in the file, percentages on the screen
    assert (csv["cart_to_purchase"] * 100).round(6).tolist() == pytest.approx(
        shown["cart_to_purchase"].astype(float).round(6).tolist(), nan_ok=True)
