"""The full stage and mart set on a real embedded lake: against the generator's truth, rebuilt
from scratch equal to the hourly runs, and gated by the checks."""

import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from clicklake import pipeline, transform
from clicklake.config import load_settings
from clicklake.generate import FAULTS, generate
from clicklake.lake import connect

START = datetime(2024, 3, 1, 20, tzinfo=UTC)  # eight hours across midnight
HOURS = 8

STAGE = ["events", "sessions", "visitors", "products", "orders", "order_items",
         "rejected_events", "page_rules"]
MARTS = ["daily_kpis", "hourly_traffic", "funnel_daily", "acquisition_daily", "attribution",
         "product_performance_daily", "audience_daily", "pages_daily", "session_paths",
         "cohort_retention_weekly"]


def _settings(home):
    return load_settings({"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": "/nonexistent"})


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    settings = _settings(tmp_path_factory.mktemp("models"))
    summary = generate(settings.source_uri, START, HOURS, events_per_hour=400, seed=7,
                       faults=FAULTS)
    con = connect(settings=settings)
    for hour in pipeline.hours(START, START + timedelta(hours=HOURS)):
        pipeline.run_hour(con, settings, hour)
    yield settings, con, summary["truth"]["days"]
    con.close()


def _contents(con, table):
    return sorted(con.execute(f"from {table}").fetchall(), key=repr)


def one(con, sql):
    return con.execute(sql).fetchone()[0]


def test_every_stage_and_mart_table_exists_and_has_rows(lake):
    _, con, _ = lake
    for table in [f"stage.{t}" for t in STAGE] + [f"mart.{t}" for t in MARTS]:
        assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table


def test_the_run_crossed_midnight_and_every_kpi_equals_the_truth(lake):
    _, con, truth = lake
    assert len(truth) == 2
    cols = ["events", "sessions", "visitors", "pageviews", "add_to_carts", "orders", "revenue"]
    got = {
        str(r[0]): dict(zip(cols, r[1:], strict=True))
        for r in con.execute(f"select date, {', '.join(cols)} from mart.daily_kpis").fetchall()
    }
    for day, want in truth.items():
        assert got[day] == {c: Decimal(str(want[c])) if c == "revenue" else want[c]
                            for c in cols}


def test_acquisition_per_utm_source_equals_the_truth(lake):
    _, con, truth = lake
    rows = con.execute("""
        select date::varchar, utm_source, sum(sessions), sum(orders), sum(revenue)
        from mart.acquisition_daily group by all
    """).fetchall()
    got = {(d, s): {"sessions": n, "orders": o, "revenue": float(r)} for d, s, n, o, r in rows}
    want = {(d, s): v for d, k in truth.items() for s, v in k["by_utm_source"].items()}
    assert got == want


def test_the_funnel_counts_each_visit_up_to_its_furthest_step_as_the_truth_does(lake):
    _, con, truth = lake
    rows = con.execute("""
        select date::varchar, step, sum(sessions) from mart.funnel_daily group by all
        having sum(sessions) > 0
    """).fetchall()
    assert {(d, s): n for d, s, n in rows} == {
        (d, s): n for d, k in truth.items() for s, n in k["funnel"].items()
    }
    first = con.execute("""
        select bool_and(step_conversion = 1 and overall_conversion = 1)
        from mart.funnel_daily where step_order = 1 and sessions > 0
    """).fetchone()[0]
    assert first
    leaks = con.execute("""
        select count(*) from mart.funnel_daily where step_conversion > 1 or overall_conversion > 1
    """).fetchone()[0]
    assert leaks == 0


def test_product_performance_equals_carts_units_and_revenue_of_the_truth(lake):
    _, con, truth = lake
    rows = con.execute("""
        select date::varchar, product_id, add_to_carts, units, revenue, orders, price_band
        from mart.product_performance_daily
    """).fetchall()
    got = {(d, p): {"add_to_carts": a, "units": u, "revenue": float(r)}
           for d, p, a, u, r, _, _ in rows}
    assert got == {(d, p): v for d, k in truth.items() for p, v in k["by_product"].items()}
    assert all(0 < o <= u for *_, u, _, o, _ in rows if u)
    assert {band for *_, band in rows} <= {"0-25", "25-50", "50-100", "100-200", "200+"}


def test_both_attribution_models_credit_every_order_and_its_revenue_once(lake):
    _, con, truth = lake
    rows = con.execute("""
        select date::varchar, model, sum(orders), sum(revenue) from mart.attribution group by all
    """).fetchall()
    got = {(d, m): (o, float(r)) for d, m, o, r in rows}
    for day, k in truth.items():
        for model in ("first_touch", "last_non_direct"):
            assert got.get((day, model), (0, 0.0)) == (k["orders"], k["revenue"])


def test_attribution_credits_the_visits_each_model_names(lake):
    """Both models recomputed order by order in Python from stage.orders and stage.sessions."""
    _, con, _ = lake
    visits = con.execute("""
        select session_id, visitor_id, session_start, utm_source, utm_medium, utm_campaign,
               utm_source is not null or referer_medium is not null
        from stage.sessions
    """).fetchall()
    by_visitor, by_id = defaultdict(list), {}
    for v in visits:
        by_visitor[v[1]].append(v)
        by_id[v[0]] = v
    want = defaultdict(lambda: [0, Decimal(0)])
    for _, ts, day, revenue, visitor, session in con.execute(
        "select order_id, order_ts, order_date, revenue, visitor_id, session_id from stage.orders"
    ).fetchall():
        window = sorted((v for v in by_visitor[visitor]
                         if ts - timedelta(days=30) <= v[2] <= ts), key=lambda v: (v[2], v[0]))
        tagged = [v for v in window if v[6]]
        for model, visit in (("first_touch", window[0] if window else by_id[session]),
                             ("last_non_direct", tagged[-1] if tagged else by_id[session])):
            key = (day, model, *(x or "(none)" for x in visit[3:6]))
            want[key][0] += 1
            want[key][1] += revenue
    got = {tuple(r[:5]): [r[5], r[6]] for r in con.execute(
        "select date, model, utm_source, utm_medium, utm_campaign, orders, revenue"
        " from mart.attribution").fetchall()}
    assert got == dict(want)
    assert any(k[1] == "last_non_direct" and k[2] != "(none)" for k in got)


def test_pages_paths_audience_and_hours_add_up_to_the_daily_kpis(lake):
    _, con, _ = lake
    kpis = {r[0]: r[1:] for r in con.execute(
        "select date, sessions, pageviews, orders, revenue from mart.daily_kpis").fetchall()}
    checks = {
        "hourly_traffic": "select date, sum(sessions), sum(pageviews), sum(orders), sum(revenue)"
                          " from mart.hourly_traffic group by date",
        "audience_daily": "select date, sum(sessions), null, sum(orders), sum(revenue)"
                          " from mart.audience_daily group by date",
        "session_paths": "select date, sum(sessions), null, sum(orders), null"
                         " from mart.session_paths group by date",
    }
    for name, sql in checks.items():
        for day, *figures in con.execute(sql).fetchall():
            for got, want in zip(figures, kpis[day], strict=True):
                if got is not None:
                    assert got == want, (name, day)
    # pages count page views on the day they happen (the KPIs count a visit's on its start day)
    pages = con.execute("select date, sum(pageviews) from mart.pages_daily group by all "
                        "order by 1").fetchall()
    viewed = con.execute("select event_date, count(*) from stage.events where is_pageview "
                         "group by all order by 1").fetchall()
    assert pages == viewed


def test_every_model_and_check_is_documented(lake):
    from clicklake import checks

    text = transform.docs()
    for table in [f"stage.{t}" for t in STAGE] + [f"mart.{t}" for t in MARTS]:
        assert f"## {table}\n\none row per" in text
    assert {c.layer for c in checks.discover()} == {"stage", "mart", "lake"}


def test_a_rebuild_from_raw_leaves_every_table_exactly_as_the_hourly_runs_did(lake):
    settings, con, _ = lake
    tables = [f"stage.{t}" for t in STAGE if t != "rejected_events"] + [
        f"mart.{t}" for t in MARTS
    ]
    before = {t: _contents(con, t) for t in tables}
    pipeline.rebuild(con, settings, "rebuild-test")
    after = {t: _contents(con, t) for t in tables}
    for t in tables:
        assert after[t] == before[t], t


def test_rejected_events_is_a_view_current_without_a_build_and_replaces_an_old_table(lake):
    """stage.rejected_events is a view over ops.rejected_rows (`-- materialized: view`): it
    stores nothing (rebuilt as a table it copied every rejected line of the history each hour),
    shows a rejection as soon as its load commits, and a lake built by a version that made it a
    table gets the view at its next build, with the same rows."""
    settings, con, _ = lake
    views = "select count(*) from duckdb_views() where database_name = 'lake' and " \
            "schema_name = 'stage' and view_name = 'rejected_events'"
    rejected = "select count(*) from ops.rejected_rows"
    assert one(con, views) == 1 and one(con, rejected) > 0
    assert one(con, "select count(*) from stage.rejected_events") == one(con, rejected)
    con.execute("begin")
    try:
        con.execute("insert into ops.rejected_rows select * replace ('late-batch' as batch_id) "
                    "from ops.rejected_rows limit 3")
        assert one(con, "select count(*) from stage.rejected_events "
                        "where batch_id = 'late-batch'") == 3
    finally:
        con.execute("rollback")
    [model] = [m for m in transform.discover() if m.name == "stage.rejected_events"]
    before = _contents(con, "stage.rejected_events")
    con.execute("drop view stage.rejected_events")
    con.execute("create table stage.rejected_events as from ops.rejected_rows limit 0")
    transform.build_together(con, [model], [], settings, gate=lambda: None)
    assert one(con, views) == 1
    assert _contents(con, "stage.rejected_events") == before
    from clicklake import report  # `clicklake status` counts it with the tables
    assert ("stage", "rejected_events", len(before)) in report.status(con)["rows per table"][1]


def test_a_view_model_takes_no_parameters_and_no_partition(tmp_path):
    path = tmp_path / "stage" / "odd.sql"
    path.parent.mkdir()
    path.write_text("-- stage.odd: one row per day\n-- materialized: view\n"
                    "-- partition: day\nselect current_date as day\n")
    with pytest.raises(ValueError, match="a view has no partition"):
        transform.parse_model(path)
    path.write_text("-- stage.odd: one row per day\n-- materialized: view\n"
                    "select * from stage.events where event_date = $first_day\n")
    with pytest.raises(ValueError, match=r"runner parameter \(\$first_day\)"):
        transform.parse_model(path)
    path.write_text("-- stage.odd: one row\n-- materialized: table\nselect 1 as x\n")
    with pytest.raises(ValueError, match="materialized can only be view"):
        transform.parse_model(path)


def test_an_error_check_fails_the_run_by_name_and_keeps_the_last_good_marts(tmp_path):
    settings = _settings(tmp_path)
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    generate(settings.source_uri, start, 2, events_per_hour=1500, seed=3)
    con = connect(settings=settings)
    pipeline.run_hour(con, settings, start)
    good = {t: _contents(con, f"mart.{t}") for t in MARTS}
    # the shop's catalog export goes wrong: every price turns negative from the next hour on
    bad = [json.dumps({"product_id": p, "name": "broken", "category": "shoes", "price": -50,
                       "currency": "USD", "updated_at": "2024-03-01T13:00:00Z"})
           for p in range(1, 61)]
    folder = tmp_path / "source" / "products" / "date=2024-03-01" / "hour=13"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.jsonl.gz").write_bytes(gzip.compress("\n".join(bad).encode()))
    with pytest.raises(pipeline.ChecksFailed, match="revenue_not_negative"):
        pipeline.run_hour(con, settings, start + timedelta(hours=1))
    assert {t: _contents(con, f"mart.{t}") for t in MARTS} == good
    failed = con.execute("""
        select check_name from ops.check_results where status = 'fail' and severity = 'error'
    """).fetchall()
    assert failed == [("revenue_not_negative",)]
    reader = connect(read_only=True, settings=settings)
    assert reader.execute("select count(*) from mart.daily_kpis").fetchone()[0] == 1
    reader.close()
    con.close()


def test_a_late_first_visit_moves_its_visitor_to_the_earlier_cohort_and_out_of_the_old(
        tmp_path):
    """A visitor seen first in one week, whose visit of an earlier week arrives later, belongs
    to the earlier cohort only: the hourly runs leave the cohorts a rebuild from raw gives."""
    settings = _settings(tmp_path)
    con = connect(settings=settings)

    def visit(at: datetime, event_id: str, click_id: str) -> None:
        rows = {"browser_events": {"event_id": event_id, "click_id": click_id,
                                   "event_type": "pageview",
                                   "event_timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "device_events": {"click_id": click_id, "user_domain_id": "v1",
                                  "device_type": "mobile"}}
        for stream, row in rows.items():
            folder = settings.home / f"source/{stream}/date={at:%Y-%m-%d}/hour={at:%H}"
            folder.mkdir(parents=True)
            (folder / "part-0.jsonl").write_text(json.dumps(row) + "\n")
        pipeline.run_hour(con, settings, at)

    cohorts = "select cohort_week::varchar, week_number, cohort_visitors, active_visitors " \
              "from mart.cohort_retention_weekly order by all"
    visit(datetime(2024, 3, 12, 10, tzinfo=UTC), "e1", "c1")  # the week of Monday 11 March
    assert con.execute(cohorts).fetchall() == [("2024-03-11", 0, 1, 1)]
    visit(datetime(2024, 3, 5, 10, tzinfo=UTC), "e0", "c0")  # a week earlier, landed later
    want = [("2024-03-04", 0, 1, 1), ("2024-03-04", 1, 1, 1)]
    assert con.execute(cohorts).fetchall() == want
    pipeline.rebuild(con, settings, "rebuild")
    assert con.execute(cohorts).fetchall() == want
    con.close()
