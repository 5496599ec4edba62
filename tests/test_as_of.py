"""The dashboard's "as of" control: the lake as it was at an earlier snapshot.

A lake of two hours of traffic on one day, the snapshot noted after the first hour: a reader
pinned to it sees the marts as they were then (not as they are now), still locked down; the
dashboard opened with `as_of=<that snapshot>` in its link shows the first hour's figures under
a banner, and a link naming a snapshot the lake does not have falls back to the latest.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from clicklake import dashboard, pipeline
from clicklake.config import load_settings
from clicklake.generate import generate
from clicklake.lake import LakeError, connect

APP = Path(__file__).resolve().parents[1] / "streamlit" / "app.py"
START = datetime(2024, 3, 4, 10, tzinfo=UTC)
DAILY = "select * from mart.daily_kpis order by date"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """The lake's settings, the snapshot after the first hour and `mart.daily_kpis` then; the
    process environment points at the lake while this module's tests run."""
    home = tmp_path_factory.mktemp("as-of-lake")
    env = {"CLICKLAKE_HOME": str(home), "CLICKLAKE_ENV_FILE": str(home / "no.env")}
    settings = load_settings(env)
    generate(settings.source_uri, START, 2, events_per_hour=200, seed=7)
    con = connect(settings=settings)
    try:
        pipeline.run_hour(con, settings, START)
        (first,) = con.execute("select max(snapshot_id) from ducklake_snapshots('lake')"
                               ).fetchone()
        then = con.execute(DAILY).fetchall()
        pipeline.run_hour(con, settings, START + timedelta(hours=1))
    finally:
        con.close()
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("CLICKLAKE_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        yield settings, first, then


def test_a_reader_at_a_snapshot_sees_the_marts_as_they_were(lake):
    settings, first, then = lake
    pinned = connect(read_only=True, settings=settings, snapshot=first)
    latest = connect(read_only=True, settings=settings)
    try:
        assert pinned.execute(DAILY).fetchall() == then
        assert latest.execute(DAILY).fetchall() != then
        # still the reader's lockdown: no file outside the lake, no setting undone
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            pinned.execute(f"copy (select 1) to '{settings.home / 'out.csv'}'")
        with pytest.raises(duckdb.Error):
            pinned.execute("set enable_external_access = true")
        with pytest.raises(duckdb.Error):
            pinned.execute("insert into mart.daily_kpis select * from mart.daily_kpis")
    finally:
        pinned.close()
        latest.close()


def test_an_unknown_snapshot_or_a_pinned_writer_is_a_clear_error(lake):
    settings, first, _ = lake
    with pytest.raises(LakeError, match="No snapshot found at version 99999"):
        connect(read_only=True, settings=settings, snapshot=99999)
    with pytest.raises(LakeError, match="only a reader"):
        connect(settings=settings, snapshot=first)


def test_the_control_offers_the_snapshots_that_changed_the_marts(lake):
    settings, first, _ = lake
    con = connect(read_only=True, settings=settings)
    try:
        offered = dashboard.as_of_snapshots(con)
        with_first = dashboard.as_of_snapshots(con, first)
    finally:
        con.close()
    assert list(offered["snapshot_id"]) == sorted(offered["snapshot_id"], reverse=True)
    assert len(offered) == 2  # one mart build per hour
    assert all(m.startswith("mart for 2024-03-04") for m in offered["commit_message"])
    assert first in set(with_first["snapshot_id"])  # a link's snapshot, whatever it changed


def kpi_cards(settings, snapshot: int | None) -> dict[str, str]:
    con = connect(read_only=True, settings=settings, snapshot=snapshot)
    try:
        day = dashboard.date_bounds(con)[1]
        k = dashboard.kpis(con, dashboard.Filters(day - timedelta(days=6), day))
    finally:
        con.close()
    return {"Sessions": f"{k['sessions']:,.0f}", "Orders": f"{k['orders']:,.0f}",
            "Revenue": f"€{k['revenue']:,.2f}", "Visitors": f"{k['visitors']:,.0f}"}


def open_app(as_of: str | None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if as_of is not None:
        at.query_params["as_of"] = as_of
    return at.run()


def link(at: AppTest) -> list[str]:
    """The `as_of` values of the app's URL."""
    value = at.query_params.get("as_of") or []
    return [value] if isinstance(value, str) else list(value)


def cards(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric if m.label in ("Sessions", "Orders", "Revenue",
                                                               "Visitors")}


def test_a_link_with_as_of_shows_that_snapshots_figures_under_a_banner(lake):
    settings, first, _ = lake
    then, now = kpi_cards(settings, first), kpi_cards(settings, None)
    assert then != now
    at = open_app(str(first))
    assert not at.exception and not at.error
    assert cards(at) == then
    banner = [w.value for w in at.warning if w.value.startswith(f"As of snapshot {first} (")]
    assert banner and "figures may differ from the latest" in banner[0]
    assert at.selectbox(key="as_of").value == first
    assert link(at) == [str(first)]
    # the way back: the latest figures, no banner, no as_of in the link
    at.button(key="as_of_back").click().run()
    assert cards(at) == now
    assert not [w for w in at.warning if w.value.startswith("As of snapshot")]
    assert link(at) == []
    # and forth again with the control, to the first hour's mart build
    con = connect(read_only=True, settings=settings)
    try:
        built = max(s for s in dashboard.as_of_snapshots(con)["snapshot_id"] if s <= first)
    finally:
        con.close()
    control = at.selectbox(key="as_of")
    assert control.options[0] == "Latest"
    assert [o for o in control.options if f"#{built} · mart for 2024-03-04" in o]
    control.set_value(int(built)).run()
    assert cards(at) == then
    assert link(at) == [str(built)]


def test_a_link_with_an_unknown_snapshot_falls_back_to_the_latest(lake):
    settings, _, _ = lake
    for bad in ("99999", "monday"):
        at = open_app(bad)
        assert not at.exception and not at.error
        assert cards(at) == kpi_cards(settings, None)
        warnings = [w.value for w in at.sidebar.warning if "as_of=" in w.value]
        assert len(warnings) == 1 and "showing the latest" in warnings[0]
        assert "\n" not in warnings[0]
        assert not [w for w in at.warning if w.value.startswith("As of snapshot")]
        assert at.selectbox(key="as_of").value is None
        assert link(at) == []
