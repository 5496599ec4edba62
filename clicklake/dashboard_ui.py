"""What every page of the Streamlit dashboard (streamlit/) shares: the cached read-only lake,
cached queries, the sidebar's global filters, the "no data yet" message, formats and charts.

Pages call `query(dashboard.some_function, filters, ...)`: the SQL itself lives in
`sql/dashboard.sql` behind `clicklake.dashboard`, so this module only connects, caches and turns
failures into one friendly line. It imports Streamlit (the `apps` extra): only the dashboard
and its tests import it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from clicklake import dashboard
from clicklake.config import ConfigError, load_settings
from clicklake.lake import LakeError, connect, first_line

TTL_SECONDS = 60  # new data lands hourly; a minute keeps pages fast without hiding a fresh run


class Unavailable(Exception):
    """The lake cannot answer: `no_data` when there is nothing to show yet."""

    def __init__(self, message: str, no_data: bool) -> None:
        super().__init__(message)
        self.no_data = no_data


def lake_key() -> str:
    """Which lake the settings point at: the cache key, so two lakes never share results."""
    settings = load_settings()
    return f"{settings.ducklake_catalog()}|{settings.data_path}"


@st.cache_resource(show_spinner=False)
def _connection(lake: str) -> duckdb.DuckDBPyConnection:
    # one read-only DuckDB per lake for the whole server; each query gets its own cursor
    return connect(read_only=True, settings=load_settings())


def _on_cursor(lake: str, fn: Callable, args: tuple) -> Any:
    cur = _connection(lake).cursor()  # cursors are safe to use from the sessions' threads
    try:
        cur.execute("use lake")
        # a missing mart must be an error, not a Python variable of that name (DuckDB's
        # replacement scans would find the function `dashboard.daily_kpis`)
        cur.execute("set python_enable_replacements = false")
        return fn(cur, *args)
    finally:
        cur.close()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _cached(lake: str, name: str, args: tuple) -> Any:
    fn = getattr(dashboard, name)
    try:
        return _on_cursor(lake, fn, args)
    except duckdb.Error:
        # a long-lived connection can hold a stale catalog (Postgres restarted, snapshots
        # expired, files compacted): reconnect once before telling the user
        _connection.clear()
        return _on_cursor(lake, fn, args)


def fetch(fn: Callable, *args: Any) -> Any:
    """Run a `clicklake.dashboard` function on the cached connection, its result cached for
    `TTL_SECONDS`; raise `Unavailable` with one line when the lake cannot answer."""
    try:
        return _cached(lake_key(), fn.__name__, args)
    except (LakeError, ConfigError) as exc:
        raise Unavailable(first_line(exc), no_data=isinstance(exc, LakeError)) from exc
    except duckdb.CatalogException as exc:  # a mart that no run has built yet
        raise Unavailable(first_line(exc), no_data=True) from exc
    except duckdb.Error as exc:
        raise Unavailable(first_line(exc), no_data=False) from exc


def query(fn: Callable, *args: Any) -> Any:
    """`fetch`, but a failure ends the page with a friendly message instead of a traceback."""
    try:
        return fetch(fn, *args)
    except Unavailable as exc:
        show_unavailable(exc)
        st.stop()


def refresh() -> None:
    """Forget every cached query result: the next page view reads the lake again."""
    _cached.clear()


def show_unavailable(exc: Unavailable) -> None:
    if exc.no_data:
        st.info(dashboard.NO_DATA, icon=":material/hourglass_empty:")
        st.caption(f"Details: {exc}")
    else:
        st.error(f"The dashboard cannot read the lake: {exc}", icon=":material/error:")


# -- the sidebar's global filters ---------------------------------------------------------------

def sidebar() -> None:
    """Render the global filters in the sidebar and remember them for the page of this run."""
    st.session_state["filters"] = None
    st.session_state["filters_problem"] = None
    try:
        bounds = fetch(dashboard.date_bounds)
        options = fetch(dashboard.filter_options) if bounds else {}
    except Unavailable as exc:
        st.session_state["filters_problem"] = exc
        return
    if bounds is None:
        st.session_state["filters_problem"] = Unavailable("the marts have no rows", True)
        return
    first, last = bounds
    with st.sidebar:
        st.subheader("Filters")
        picked = st.date_input(
            "Dates", value=(max(first, last - timedelta(days=6)), last), min_value=first,
            max_value=last, key="dates", help="Reporting-time-zone days, both ends included.",
        )
        start, end = _date_range(picked, last)
        sources = st.multiselect("Source", options["sources"], key="sources",
                                 placeholder="All sources")
        devices = st.multiselect("Device", options["devices"], key="devices",
                                 placeholder="All devices")
        countries = st.multiselect("Country", options["countries"], key="countries",
                                   placeholder="All countries")
        st.button("Refresh data", icon=":material/refresh:", on_click=refresh,
                  help=f"Results are cached for {TTL_SECONDS} s.")
        st.caption(f"Data from {first:%d %b %Y} to {last:%d %b %Y}.")
    st.session_state["filters"] = dashboard.Filters(
        start, end, tuple(sources), tuple(devices), tuple(countries)
    )


def _date_range(picked: Any, last: date) -> tuple[date, date]:
    # while the user is still picking, the widget holds one day only
    days = list(picked) if isinstance(picked, list | tuple) else [picked]
    days = [d for d in days if d] or [last]
    return days[0], days[-1]


def _page_runs_alone() -> bool:
    # a page file run as the main script (AppTest, `streamlit run` on one page) has no app.py
    # to render the sidebar first
    ctx = get_script_run_ctx()
    return ctx is not None and Path(ctx.main_script_path).parent.name == "app_pages"


def filters(page: str) -> dashboard.Filters:
    """The global filters for `page`, with a caption naming those its marts cannot apply;
    ends the page with the "no data yet" message when there is nothing to filter."""
    if _page_runs_alone():
        sidebar()
    f = st.session_state.get("filters")
    if f is None:
        show_unavailable(st.session_state.get("filters_problem")
                         or Unavailable("no lake yet", True))
        st.stop()
    applies = dashboard.APPLIES[page]
    chosen = {"source": f.sources, "device": f.devices, "country": f.countries}
    ignored = [k for k, values in chosen.items() if values and k not in applies]
    period = f"{f.start:%d %b %Y}" + ("" if f.days == 1 else f" – {f.end:%d %b %Y}")
    note = f"{period} ({f.days} day{'s' if f.days > 1 else ''})"
    if ignored:
        note += f" · not filtered by {', '.join(ignored)}: this data has no such column"
    st.caption(note)
    return f


# -- formats and charts -------------------------------------------------------------------------

def fmt_int(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def change(now: float | None, before: float | None, rate: bool = False) -> str | None:
    """The delta a KPI card shows: relative change, or percentage points for a rate."""
    if now is None or before is None:
        return None
    if rate:
        return f"{(now - before) * 100:+.2f} pp"
    if before == 0:
        return None
    return f"{now / before - 1:+.1%}"


INT = st.column_config.NumberColumn(format="localized")
MONEY = st.column_config.NumberColumn(format="%.2f")
PCT = st.column_config.NumberColumn(format="percent")
LINE_COLOR = "#e45756"


def table(df: pd.DataFrame, **columns: Any) -> None:
    """A dataframe without the index; `columns` maps a column to a config or a label."""
    config = {name: st.column_config.Column(c) if isinstance(c, str) else c
              for name, c in columns.items()}
    st.dataframe(df, hide_index=True, column_config=config)


def bars(df: pd.DataFrame, x: str, y: str, *, sort: str | list | None = "-x", title: str = "",
         fmt: str = ",.0f", color: str | None = None, height: int = 300) -> None:
    """A horizontal bar chart of `x` (a number) per `y` (a category)."""
    enc = {
        "x": alt.X(x, title=title or x, axis=alt.Axis(format=fmt)),
        "y": alt.Y(y, title=None, sort=sort),
        "tooltip": [y, alt.Tooltip(x, format=fmt)],
    }
    if color:
        enc["color"] = alt.Color(color, title=None)
        enc["tooltip"] = [y, color, alt.Tooltip(x, format=fmt)]
    chart = alt.Chart(df).mark_bar().encode(**enc).properties(height=height)
    st.altair_chart(chart)


def bars_and_line(daily: pd.DataFrame, bar: str, line: str, line_format: str) -> None:
    """Per day (`date`): bars of `bar` and a line of `line`, each on its own axis."""
    base = alt.Chart(daily).encode(x=alt.X("yearmonthdate(date):O", title=None))
    chart = alt.layer(
        base.mark_bar(opacity=0.75).encode(
            y=alt.Y(f"{bar}:Q", title=bar),
            tooltip=["date:T", alt.Tooltip(f"{bar}:Q", format=",.2f")],
        ),
        base.mark_line(point=True, color=LINE_COLOR).encode(
            y=alt.Y(f"{line}:Q", title=line.replace("_", " "),
                    axis=alt.Axis(format=line_format, titleColor=LINE_COLOR)),
            tooltip=["date:T", alt.Tooltip(f"{line}:Q", format=line_format)],
        ),
    ).resolve_scale(y="independent").properties(height=280)
    st.altair_chart(chart)
