"""What every page of the Streamlit dashboard (streamlit/) shares: the cached read-only lake,
cached queries, the sidebar's global filters, the "no data yet" message, formats and charts.

Pages call `query(dashboard.some_function, filters, ...)`: the SQL itself lives in
`sql/dashboard.sql` behind `clicklake.dashboard`, so this module only connects, caches and turns
failures into one friendly line. It imports Streamlit (the `apps` extra): only the dashboard
and its tests import it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
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
def _connection(lake: str, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
    # one read-only DuckDB per lake and snapshot (None: the latest) for the whole server, each
    # locked down alike; each query gets its own cursor
    return connect(read_only=True, settings=load_settings(), snapshot=snapshot)


def _on_cursor(lake: str, fn: Callable, args: tuple, snapshot: int | None = None) -> Any:
    # cursors are safe to use from the sessions' threads; the latest's cache key is `(lake,)`
    # (Streamlit keys by the arguments passed, not by their defaults)
    con = _connection(lake) if snapshot is None else _connection(lake, snapshot)
    cur = con.cursor()
    try:
        cur.execute("use lake")
        # a missing mart must be an error, not a Python variable of that name (DuckDB's
        # replacement scans would find the function `dashboard.daily_kpis`)
        cur.execute("set python_enable_replacements = false")
        return fn(cur, *args)
    finally:
        cur.close()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _cached(lake: str, name: str, args: tuple, snapshot: int | None = None) -> Any:
    fn = getattr(dashboard, name)
    try:
        return _on_cursor(lake, fn, args, snapshot)
    except duckdb.Error:
        # a long-lived connection can hold a stale catalog (Postgres restarted, snapshots
        # expired, files compacted): reconnect once before telling the user
        _connection.clear()
        return _on_cursor(lake, fn, args, snapshot)


def pinned() -> int | None:
    """The snapshot every page reads (the sidebar's "As of"), or None for the latest."""
    return st.session_state.get("as_of")


def fetch(fn: Callable, *args: Any) -> Any:
    """Run a `clicklake.dashboard` function on the cached connection to the lake as of the
    pinned snapshot (`pinned`), its result cached for `TTL_SECONDS`; raise `Unavailable`
    with one line when the lake cannot answer."""
    return _fetch(fn, args, pinned())


def _fetch(fn: Callable, args: tuple, snapshot: int | None) -> Any:
    try:
        return _cached(lake_key(), fn.__name__, args, snapshot)
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


# -- the sidebar's global filters, kept in the URL ------------------------------------------------

# the sidebar's widget keys per list filter of `dashboard.View`, and their labels
LIST_WIDGETS = {"sources": "Source", "devices": "Device", "countries": "Country",
                "mediums": "UTM medium", "campaigns": "UTM campaign", "products": "Product"}
_ALL = {"sources": "All sources", "devices": "All devices", "countries": "All countries",
        "mediums": "All mediums", "campaigns": "All campaigns", "products": "All products"}


def sidebar() -> None:
    """Render the global filters in the sidebar and remember them for the page of this run.
    A new session starts from the filters in the URL's query parameters; every run writes the
    filters back to the URL, so a copied link reproduces the view."""
    st.session_state["filters"] = None
    st.session_state["filters_problem"] = None
    _as_of()
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
    try:  # a lake without the acquisition or product mart still has the other pages
        options = {**options, **fetch(dashboard.campaign_and_product_options)}
    except Unavailable:
        options = {**options, "mediums": [], "campaigns": [], "products": []}
    if not st.session_state.get("url_read"):
        _from_url(options, last)
        st.session_state["url_read"] = True
    with st.sidebar:
        st.subheader("Filters")
        st.selectbox("Period", list(dashboard.PRESETS), format_func=dashboard.PRESETS.get,
                     key="preset", on_change=_preset_chosen, args=(last,),
                     help="Counted back from the newest day with data in the lake.")
        picked = st.date_input(
            "Dates", min_value=min(first, *_dates_or(last)), max_value=max(last, *_dates_or(
                last)), key="dates", on_change=_dates_picked,
            help="Reporting-time-zone days, both ends included.",
        )
        start, end = _date_range(picked, last)
        st.caption(f"Today = the newest day in the lake, {last:%d %b %Y}.")
        st.selectbox("Compare with", list(dashboard.COMPARISONS),
                     format_func=dashboard.COMPARISONS.get, key="comparison")
        for key, label in LIST_WIDGETS.items():
            st.multiselect(label, options[key], key=key, placeholder=_ALL[key],
                           format_func=_namer(options, key))
        st.button("Refresh data", icon=":material/refresh:", on_click=refresh,
                  help=f"Results are cached for {TTL_SECONDS} s.")
        st.caption(f"Data from {first:%d %b %Y} to {last:%d %b %Y}.")
    for problem in st.session_state.get("url_problems", []):
        st.sidebar.warning(problem, icon=":material/link_off:")
    view = _view(start, end)
    _to_url(view)
    st.session_state["filters"] = view.filters(last)


def _as_of() -> None:
    """The "As of" control, first in the sidebar: "Latest" or a snapshot that changed the
    marts (newest first, by time and commit message), kept in the URL as `as_of=<id>`. A new
    session takes it from the URL; an unknown or expired snapshot there gets a one-line
    warning and the latest. While pinned, a banner above the page says so, with a way back."""
    from_url = not st.session_state.get("as_of_read")
    wanted, problem = _url_as_of() if from_url else (pinned(), None)
    try:
        rows = _fetch(dashboard.as_of_snapshots, (wanted,), None)
    except Unavailable:  # no lake yet: the rest of the sidebar says so
        st.session_state["as_of"] = None
        _as_of_to_url(None)
        return
    labels = {int(r.snapshot_id): (r.snapshot_time, r.commit_message)
              for r in rows.itertuples()}
    if wanted is not None and wanted not in labels:
        problem = (f"ignored as_of={wanted} from the link: the lake has no snapshot {wanted} "
                   "(unknown or expired), showing the latest" if from_url else
                   f"snapshot {wanted} is no longer in the lake (expired), showing the latest")
        wanted = None
    if from_url or wanted is None:
        st.session_state["as_of"] = wanted
    st.session_state["as_of_read"] = True
    st.sidebar.selectbox(
        # None (the latest) reads as "no choice" to Streamlit: the placeholder names it
        "As of", [None, *labels], key="as_of", placeholder="Latest",
        format_func=lambda s: "Latest" if s is None else _snapshot_label(s, *labels.get(
            s, (None, "no longer in the lake"))),
        help="Show every page as the lake was at an earlier snapshot (one that changed the "
             "marts); the link keeps it, so a report can be reproduced exactly.")
    if problem:
        st.sidebar.warning(problem, icon=":material/history:")
    snapshot = pinned()
    _as_of_to_url(snapshot)
    if snapshot is not None:
        at, message = labels[snapshot]
        st.warning(f"As of snapshot {snapshot} ({at:%Y-%m-%d %H:%M} UTC): {message} — "
                   "figures may differ from the latest", icon=":material/history:")
        st.button("Back to latest", on_click=_unpin, icon=":material/update:",
                  key="as_of_back")


def _snapshot_label(snapshot: int, at: Any, message: str) -> str:
    return f"{at:%d %b %Y %H:%M} UTC · #{snapshot} · {message}" if at else (
        f"#{snapshot} · {message}")


def _url_as_of() -> tuple[int | None, str | None]:
    # the link's snapshot id ("latest" or none: None), and a line when it is not one
    raw = st.query_params.get("as_of")
    if raw in (None, "", "latest"):
        return None, None
    try:
        return int(raw), None
    except ValueError:
        return None, f"ignored as_of={raw!r} from the link: not a snapshot id, showing the latest"


def _unpin() -> None:
    st.session_state["as_of"] = None


def _as_of_to_url(snapshot: int | None) -> None:
    current = st.query_params.get("as_of")
    if snapshot is None:
        if current is not None:
            del st.query_params["as_of"]
    elif current != str(snapshot):
        st.query_params["as_of"] = str(snapshot)


def _dates_or(last: date) -> tuple[date, ...]:
    # the days the date widget holds (a link's or a preset's may lie outside the data)
    return tuple(d for d in st.session_state.get("dates") or (last,) if d) or (last,)


def _namer(options: dict, key: str) -> Callable[[str], str]:
    names = options.get("product_names", {}) if key == "products" else {}
    return lambda value: f"{names[value]} ({value})" if value in names else value


def _preset_chosen(last: date) -> None:
    preset = st.session_state["preset"]
    if preset != "custom":
        st.session_state["dates"] = dashboard.preset_range(preset, last)


def _dates_picked() -> None:
    st.session_state["preset"] = "custom"


def _from_url(options: dict, last: date) -> None:
    """Set the sidebar's widgets from the URL (a new session); values the data does not have
    are dropped with one line each."""
    query = {k: st.query_params.get_all(k) for k in dashboard.URL_KEYS}
    view, problems = dashboard.view_from_query(query)
    st.session_state["preset"] = view.preset
    st.session_state["dates"] = view.dates(last)
    st.session_state["comparison"] = view.comparison
    for key in LIST_WIDGETS:
        chosen = getattr(view, key)
        known = [v for v in chosen if v in options[key]]
        if len(known) < len(chosen):
            unknown = ", ".join(repr(v) for v in chosen if v not in options[key])
            problems.append(f"ignored {LIST_WIDGETS[key].lower()} {unknown} from the link: "
                            "not in the data")
        st.session_state[key] = known
    st.session_state["url_problems"] = problems


def _view(start: date, end: date) -> dashboard.View:
    preset = st.session_state["preset"]
    return dashboard.View(
        preset, start if preset == "custom" else None, end if preset == "custom" else None,
        comparison=st.session_state["comparison"],
        **{key: tuple(st.session_state.get(key) or ()) for key in LIST_WIDGETS})


def _to_url(view: dashboard.View) -> None:
    # write only what changed: each write is a message to the browser
    wanted = dashboard.view_to_query(view)
    for key in dashboard.URL_KEYS:
        value = wanted.get(key)
        current = st.query_params.get_all(key)
        if value is None:
            if current:
                del st.query_params[key]
        elif (value if isinstance(value, list) else [value]) != current:
            st.query_params[key] = value


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
    chosen = {"source": f.sources, "device": f.devices, "country": f.countries,
              "medium": f.mediums, "campaign": f.campaigns, "product": f.products}
    ignored = [k for k, values in chosen.items() if values and k not in applies]
    note = f"{period(f.start, f.end)} ({f.days} day{'s' if f.days > 1 else ''})"
    if applies:
        note += f" · filters that apply here: {', '.join(applies)}"
    if ignored:
        note += f" · not filtered by {', '.join(ignored)}: this data has no such column"
    st.caption(note)
    return f


def period(start: date, end: date) -> str:
    """"05 Mar 2024", or "28 Feb 2024 – 05 Mar 2024" for more than one day."""
    return f"{start:%d %b %Y}" + ("" if start == end else f" – {end:%d %b %Y}")


def versus(f: dashboard.Filters) -> tuple[dashboard.Filters | None, str]:
    """The comparison filters of `f` (None for no comparison) and how a KPI card names them,
    short enough for a card ("21 Feb – 27 Feb", the year only when it is not the period's)."""
    other = f.compared()
    if other is None:
        return None, ""
    day = "%d %b" if other.start.year == other.end.year == f.end.year else "%d %b %Y"
    return other, f"{other.start:{day}}" + (
        "" if other.start == other.end else f" – {other.end:{day}}")


# -- formats and charts (clicklake.formatting: the same formats as the notebooks) -------------

fmt_int = formatting.count
fmt_money = formatting.money
fmt_pct = formatting.percent


NO_CHANGE = "no change"


def change(now: float | None, before: float | None, rate: bool = False) -> str | None:
    """The delta a KPI card shows: relative change ("+4.2%"), or percentage points for a rate
    ("+1.2 pp"); "no change" when the figure is the same, "±0.0%" / "±0.0 pp" when it moved
    less than the shown precision (neither is a rise: `delta_style` draws them neutral);
    None when there is nothing to compare with."""
    if formatting.is_missing(now) or formatting.is_missing(before):
        return None
    if now == before:
        return NO_CHANGE
    if not rate and before == 0:
        return None
    text = (formatting.points(now - before) if rate
            else f"{now / before - 1:+.{formatting.PERCENT_DECIMALS}%}")
    if not any(digit in text for digit in "123456789"):  # too small for the shown decimals
        return "±" + text.lstrip("+-")
    return text


def delta_style(delta: str | None) -> dict[str, str]:
    """`st.metric` arguments for a delta from `change`: an unchanged figure is grey and has
    no arrow (Streamlit would draw any delta not starting with "-" as a green rise)."""
    if delta == NO_CHANGE or (delta or "").startswith("±"):
        return {"delta_color": "off", "delta_arrow": "off"}
    return {}


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


WRAPPED_ROW = 68  # px: three lines of text; Streamlit wraps a cell's text only in rows over 64 px


def table(df: pd.DataFrame, download_name: str | None = None, *, wrap: bool = False,
          **columns: Any) -> None:
    """A dataframe without the index, every column labelled and formatted by its name
    (`clicklake.formatting`), with a CSV download of the same rows and columns (`csv_bytes`,
    file `clicklake-<download_name>.csv`); `columns` overrides a column with a label or a
    config. Rates are shown as percentages with one decimal; a missing value reads "–" (the
    column keeps its numbers). `wrap`: rows three lines tall, so long text (a commit message,
    an error) wraps in its cell instead of being cut off."""
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
    # wrapped rows are tall: show up to eight of them (the rest scroll), not a five-row slot
    st.dataframe(shown, hide_index=True, column_config=config,
                 placeholder=formatting.MISSING, row_height=WRAPPED_ROW if wrap else None,
                 height=38 + WRAPPED_ROW * min(len(df), 8) if wrap else "auto")
    name = download_name or "-".join(str(c) for c in df.columns[:2])
    st.download_button(
        "CSV", lambda: csv_bytes(df), file_name=f"clicklake-{name}.csv", mime="text/csv",
        icon=":material/download:", type="tertiary", on_click="ignore",
        key=f"csv-{name}-{len(df)}-{'|'.join(map(str, df.columns))}",
        help="The rows and columns of this table; raw values (rates as fractions, money "
             "without currency), column names as in the lake.",
    )


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A table as the CSV its download button gives: the same rows and columns, raw values
    (rates as fractions 0–1, money as plain numbers), the lake's column names, UTF-8."""
    return df.to_csv(index=False).encode()


def _themed(chart: Any) -> Any:
    # one palette and one number locale (the currency) for every chart of the dashboard
    return chart.configure(locale=formatting.vega_locale()).configure_range(
        category=list(formatting.PALETTE))


def category_color(field: str, values: Any, dimension: str | None = None,
                   known: list[str] | None = None, title: str | None = None,
                   **kw: Any) -> alt.Color:
    """The colour encoding of a category (`field`, whose values are `values`): each value has
    the colour `formatting.category_colours` gives it for `dimension` (default: `field`), so
    a product category, device or source looks the same on every chart and page whatever
    else the chart holds; the legend lists the values by name. `known`: a fixed order of
    values for a chart's own kinds (they take the palette's colours in that order)."""
    colours = formatting.category_colours(values, dimension or field, known)
    domain = [v for v in known if v in colours] if known else list(colours)
    return alt.Color(f"{field}:N", title=title, sort=domain, scale=alt.Scale(
        domain=domain, range=[colours[v] for v in domain]), **kw)


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
        # a few round ticks: money labels ("€12,000") must not run into each other
        "x": alt.X(x, title=title or formatting.label(x),
                   axis=alt.Axis(format=number, tickCount=5, labelOverlap=True)),
        "y": alt.Y(y, title=None, sort=sort, axis=alt.Axis(labelLimit=180)),
        "tooltip": [alt.Tooltip(y, title=formatting.label(y)), tip],
    }
    mark = alt.Chart(df).mark_bar(color=formatting.PALETTE[0])
    if color:
        enc["color"] = category_color(color, df[color])
        enc["tooltip"] = [alt.Tooltip(y, title=formatting.label(y)),
                          alt.Tooltip(color, title=formatting.label(color)), tip]
        mark = alt.Chart(df).mark_bar()
    show(mark.encode(**enc).properties(height=height))


def _bar_size(n: int) -> int:
    # one day must not be one giant bar, ninety must not overlap
    return max(2, min(36, int(380 / max(n, 1) * 0.7)))


# the x axis of days: each day a band, named "05 Mar"; read in UTC, as the lake's dates and
# hours are written (a browser east or west of UTC must not move them a day or an hour)
DAY_X = alt.X("utcyearmonthdate(date):O", title=None,
              axis=alt.Axis(format=formatting.DAY_AXIS, labelAngle=0, labelOverlap=True))


def per_day(daily: pd.DataFrame, measure: str, before: pd.DataFrame | None = None,
            shift: int = 0, height: int = 200) -> None:
    """Bars of one measure per day (`date`), on its own axis. With `before` (the comparison
    period's days) the same measure then is a grey dashed line, its days moved `shift` days
    forward onto the period's own. Up to ten days carry their value above the bar, so one day
    reads as a figure, not as a lone bar."""
    y = alt.Y(f"{measure}:Q", title=None, scale=alt.Scale(zero=True),
              axis=alt.Axis(format=axis_format(measure), tickCount=4))
    tips = [alt.Tooltip("utcyearmonthdate(date):T", title="Day", format="%a %d %b %Y"),
            alt.Tooltip(f"{measure}:Q", format=tip_format(measure),
                        title=formatting.label(measure))]
    base = alt.Chart(daily).encode(x=DAY_X, y=y)
    layers: list[Any] = [base.mark_bar(color=formatting.PALETTE[0],
                                       size=_bar_size(len(daily))).encode(tooltip=tips)]
    if len(daily) <= 10:
        layers.append(base.mark_text(dy=-7, fontSize=11, color="#31333F").encode(
            text=alt.Text(f"{measure}:Q", format=axis_format(measure))))
    if before is not None and not before.empty:
        moved = before.assign(
            compared_day=pd.to_datetime(before["date"]),
            date=pd.to_datetime(before["date"]) + pd.Timedelta(days=shift))
        moved = moved[moved["date"].isin(pd.to_datetime(daily["date"]))]
        layers.append(_compared(moved, measure, y))
    show(alt.layer(*layers).properties(height=height))


def _compared(moved: pd.DataFrame, measure: str, y: Any) -> Any:
    # the comparison period of one measure: a grey dashed line, its tooltip naming its day
    return alt.Chart(moved).mark_line(
        color=formatting.COMPARED, strokeDash=[5, 4], strokeWidth=2,
        point=alt.OverlayMarkDef(size=45, filled=False, color=formatting.COMPARED),
    ).encode(x=DAY_X, y=y, tooltip=[
        alt.Tooltip("utcyearmonthdate(compared_day):T", title="Compared day",
                    format="%a %d %b %Y"),
        alt.Tooltip(f"{measure}:Q", format=tip_format(measure),
                    title=f"{formatting.label(measure)}, compared"),
    ])


def hour_ticks(first: Any, last: Any) -> tuple[list[pd.Timestamp], str]:
    """Where an axis of hours from `first` to `last` has its ticks and how they are labelled:
    every 1, 2 or 3 hours labelled "14:00" within one day ("hour"); every 6 or 12 hours over
    two or three days, midnight labelled with its day ("hour_and_day"); beyond that every
    day, 2, 7 or 14 days, labelled "06 Mar" ("day"). Always on whole hours or midnights."""
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    hours = (last - first) / pd.Timedelta(hours=1)
    if first.normalize() == last.normalize():
        every, labels = f"{1 if hours <= 6 else 2 if hours <= 12 else 3}h", "hour"
    elif hours <= 72:
        every, labels = f"{6 if hours <= 36 else 12}h", "hour_and_day"
    else:
        days = hours / 24
        every, labels = f"{1 if days <= 8 else 2 if days <= 16 else 7 if days <= 60 else 14}D", (
            "day")
        first = first.ceil("D")
    return list(pd.date_range(first.ceil(every) if labels != "day" else first, last,
                              freq=every)), labels


_HOUR_LABELS = {
    "hour": f"utcFormat(datum.value, '{formatting.HOUR_AXIS}')",
    "hour_and_day": f"utcHours(datum.value) == 0 ? utcFormat(datum.value, "
                    f"'{formatting.DAY_AXIS}') : utcFormat(datum.value, '{formatting.HOUR_AXIS}')",
    "day": f"utcFormat(datum.value, '{formatting.DAY_AXIS}')",
}


HOURLY_DAYS = 3  # hours on up to this many days are drawn one by one; more, by hour of day


def per_hour(hourly: pd.DataFrame, measure: str, color: str) -> None:
    """`measure` per hour (`hour`) under its own heading. Hours on up to `HOURLY_DAYS` days:
    a line of every hour, ticked on whole hours and labelled as hours ("14:00") or days
    ("06 Mar") as their span asks (`hour_ticks`). More days: bars per hour of the day, the
    average over the days that have traffic (a month of hours as one line is only noise)."""
    name = formatting.label(measure)
    days = hourly["hour"].dt.normalize().nunique() if not hourly.empty else 0
    if days > HOURLY_DAYS:
        st.subheader(f"{name} by hour of day")
        _by_hour_of_day(hourly, measure, days, color)
        return
    st.subheader(f"{name} per hour")
    ticks, labels = (hour_ticks(hourly["hour"].min(), hourly["hour"].max())
                     if not hourly.empty else ([], "hour"))
    # the ticks' wall-clock values read as UTC, as the chart reads the naive hours (Vega-Lite
    # takes a time axis's values as date-times, not as epoch numbers)
    values = [alt.DateTime(year=t.year, month=t.month, date=t.day, hours=t.hour, utc=True)
              for t in ticks]
    x = alt.X("hour:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(
        values=values, labelExpr=_HOUR_LABELS[labels], labelAngle=0, labelOverlap=True,
        grid=False))
    show(alt.Chart(hourly).mark_line(
        color=color, point=alt.OverlayMarkDef(filled=True, color=color) if len(hourly) <= 48
        else False,
    ).encode(
        x=x,
        y=alt.Y(f"{measure}:Q", title=None, axis=alt.Axis(format=axis_format(measure),
                                                          tickCount=4)),
        tooltip=[alt.Tooltip("utcyearmonthdatehoursminutes(hour):T", title="Hour",
                             format=f"%a {formatting.DAY_AXIS} {formatting.HOUR_AXIS}"),
                 alt.Tooltip(f"{measure}:Q", format=tip_format(measure), title=name)],
    ).properties(height=220))


def _by_hour_of_day(hourly: pd.DataFrame, measure: str, days: int, color: str) -> None:
    # the chart sums each hour of the day over the period and divides by its days; a count's
    # average keeps a decimal ("0.4 orders")
    fmt = axis_format(measure) if formatting.kind(measure) != "count" else ",.1~f"
    x = alt.X("hour_of_day:O", title=None, scale=alt.Scale(domain=list(range(24))),
              axis=alt.Axis(labelAngle=0, labelExpr="datum.value % 3 == 0 ? "
                            "(datum.value < 10 ? '0' : '') + datum.value + ':00' : ''"))
    show(alt.Chart(hourly).transform_calculate(
        hour_of_day="utchours(datum.hour)",
    ).transform_aggregate(
        total=f"sum({measure})", groupby=["hour_of_day"],
    ).transform_calculate(
        per_day=f"datum.total / {int(days)}",
    ).mark_bar(color=color).encode(
        x=x,
        y=alt.Y("per_day:Q", title=f"Average of {days} days",
                axis=alt.Axis(format=fmt, tickCount=4)),
        tooltip=[alt.Tooltip("hour_of_day:O", title="Hour of day"),
                 alt.Tooltip("per_day:Q", format=fmt,
                             title=f"{formatting.label(measure)}, average per day"),
                 alt.Tooltip("total:Q", format=tip_format(measure),
                             title=f"{formatting.label(measure)}, all {days} days")],
    ).properties(height=220))
