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

from clicklake import dashboard, formatting
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


# -- formats and charts (clicklake.formatting: the same formats as the notebooks) -------------

fmt_int = formatting.count
fmt_money = formatting.money
fmt_pct = formatting.percent


def change(now: float | None, before: float | None, rate: bool = False) -> str | None:
    """The delta a KPI card shows: relative change, or percentage points for a rate."""
    if now is None or before is None:
        return None
    if rate:
        return formatting.points(now - before)
    if before == 0:
        return None
    return f"{now / before - 1:+.1%}"


def _money_column(title: str | None = None, **kw: Any) -> st.column_config.NumberColumn:
    code = load_settings().currency
    preset = {"EUR": "euro", "USD": "dollar", "JPY": "yen"}.get(code)
    if preset is None:  # no preset for it: separators, and the code in the header
        title = f"{title} ({code})" if title else None
    return st.column_config.NumberColumn(title, format=preset or "localized", **kw)


INT = st.column_config.NumberColumn(format="localized")
PCT = st.column_config.NumberColumn(format=f"%.{formatting.PERCENT_DECIMALS}f%%")  # of 0–100 values
NARROW = 80  # px: a number column sized to its numbers, not to the widest header


def column(name: str, title: str | None = None, **kw: Any) -> Any:
    """The column config for `name` from its kind (money, rate, count, text) and human label."""
    title = title or formatting.label(name)
    kind = formatting.kind(name)
    if kind == "money":
        return _money_column(title, **kw)
    if kind == "percent":
        return st.column_config.NumberColumn(title, format=PCT["type_config"]["format"], **kw)
    return st.column_config.NumberColumn(title, format="localized", **kw)


def table(df: pd.DataFrame, **columns: Any) -> None:
    """A dataframe without the index, every column labelled and formatted by its name
    (`clicklake.formatting`); `columns` overrides a column with a label or a config. Rates are
    shown as percentages with one decimal."""
    shown = df.copy()
    config = {}
    for name in shown.columns:
        given = columns.get(name)
        if isinstance(given, str) or given is None:
            config[name] = column(name, given) if pd.api.types.is_numeric_dtype(
                shown[name]) else st.column_config.Column(given or formatting.label(name))
        else:
            config[name] = {**given, "label": given.get("label") or formatting.label(name)}
        fmt_of = (config[name].get("type_config") or {}).get("format") if isinstance(
            config[name], dict) else None
        if fmt_of and fmt_of.endswith("%%"):
            shown[name] = shown[name] * 100
    st.dataframe(shown, hide_index=True, column_config=config)


def _themed(chart: Any) -> Any:
    # one palette and one number locale (the currency) for every chart of the dashboard
    return chart.configure(locale=formatting.vega_locale()).configure_range(
        category=list(formatting.PALETTE))


def show(chart: Any) -> None:
    """Draw an Altair chart with the dashboard's palette and money format."""
    st.altair_chart(_themed(chart))


def axis_format(column: str) -> str:
    """The d3 format of a column's numbers on an axis."""
    return {"money": formatting.MONEY_AXIS, "percent": formatting.PERCENT_AXIS,
            "count": formatting.COUNT_AXIS}[formatting.kind(column)]


def tip_format(column: str) -> str:
    """The d3 format of a column's numbers in a tooltip."""
    return formatting.MONEY_TIP if formatting.kind(column) == "money" else axis_format(column)


def bars(df: pd.DataFrame, x: str, y: str, *, sort: str | list | None = "-x", title: str = "",
         fmt: str | None = None, color: str | None = None, height: int = 300,
         **_: Any) -> None:
    """A horizontal bar chart of `x` (a number) per `y` (a category)."""
    number = fmt or axis_format(x)
    tip = alt.Tooltip(x, format=tip_format(x), title=formatting.label(x))
    enc = {
        "x": alt.X(x, title=title or formatting.label(x), axis=alt.Axis(format=number)),
        "y": alt.Y(y, title=None, sort=sort, axis=alt.Axis(labelLimit=180)),
        "tooltip": [alt.Tooltip(y, title=formatting.label(y)), tip],
    }
    mark = alt.Chart(df).mark_bar(color=formatting.PALETTE[0])
    if color:
        enc["color"] = alt.Color(color, title=None)
        enc["tooltip"] = [alt.Tooltip(y, title=formatting.label(y)),
                          alt.Tooltip(color, title=formatting.label(color)), tip]
        mark = alt.Chart(df).mark_bar()
    show(mark.encode(**enc).properties(height=height))


def _bar_size(n: int) -> int:
    # one day must not be one giant bar, thirty must not overlap
    return max(3, min(36, int(420 / max(n, 1) * 0.7)))


def bars_and_line(daily: pd.DataFrame, bar: str, line: str) -> None:
    """Per day (`date`): bars of `bar` and a line of `line`, each on its own axis and colour."""
    base = alt.Chart(daily).encode(
        x=alt.X("yearmonthdate(date):O", title=None,
                axis=alt.Axis(format=formatting.DAY_AXIS, labelAngle=0, labelOverlap=True)))
    tips = ["date:T", alt.Tooltip(f"{bar}:Q", format=tip_format(bar), title=formatting.label(bar)),
            alt.Tooltip(f"{line}:Q", format=tip_format(line), title=formatting.label(line))]
    chart = alt.layer(
        base.mark_bar(color=formatting.PALETTE[0], size=_bar_size(len(daily))).encode(
            y=alt.Y(f"{bar}:Q", title=formatting.label(bar),
                    axis=alt.Axis(format=axis_format(bar), titleColor=formatting.PALETTE[0])),
            tooltip=tips,
        ),
        base.mark_line(color=formatting.ACCENT, strokeWidth=2.5, point=alt.OverlayMarkDef(
            size=90, filled=True, color=formatting.ACCENT)).encode(
            y=alt.Y(f"{line}:Q", title=formatting.label(line), scale=alt.Scale(zero=True),
                    axis=alt.Axis(format=axis_format(line), titleColor=formatting.ACCENT)),
            tooltip=tips,
        ),
    ).resolve_scale(y="independent").properties(height=280)
    show(chart)


def per_hour(hourly: pd.DataFrame, measure: str, one_day: bool, color: str) -> None:
    """A line of `measure` per hour (`hour`), its x labels read as hours ("14:00")."""
    day_hour = f"{formatting.DAY_AXIS} {formatting.HOUR_AXIS}"
    x = (alt.X("hours(hour):O", title=None,
               axis=alt.Axis(format=formatting.HOUR_AXIS, labelAngle=0))
         if one_day else
         alt.X("hour:T", title=None, axis=alt.Axis(format=day_hour, labelOverlap=True)))
    show(alt.Chart(hourly).mark_line(
        color=color, point=alt.OverlayMarkDef(filled=True, color=color) if len(hourly) <= 48
        else False,
    ).encode(
        x=x,
        y=alt.Y(f"{measure}:Q", title=formatting.label(measure),
                axis=alt.Axis(format=axis_format(measure))),
        tooltip=[alt.Tooltip("hour:T", format=f"%a {formatting.DAY_AXIS} {formatting.HOUR_AXIS}",
                             title="Hour"),
                 alt.Tooltip(f"{measure}:Q", format=tip_format(measure),
                             title=formatting.label(measure))],
    ).properties(height=220))
