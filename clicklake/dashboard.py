"""The dashboard's queries: what the Streamlit pages ask the lake, as plain functions.

Every statement lives in `sql/dashboard.sql`, one `-- query: <name>` section per function here.
Each function takes a lake connection (the dashboard's is read-only) and the global `Filters`
and returns a pandas DataFrame, so the pages only lay things out and the tests call the very
same functions. Filter values are always bound as parameters, never formatted into SQL; an
empty filter means "all", and a mart without a dimension ignores that filter (`APPLIES` says
which filters each page honours, so the page can tell the user).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from clicklake import formatting, sources
from clicklake.lake import SQL_DIR
from clicklake.sqltext import sections

NO_DATA = "No data yet — run `make demo` or the Airflow DAG, then reload this page."

# Which global filters each page's data can honour (the other marts have no such column).
APPLIES = {
    "overview": ("dates", "source", "device", "country"),
    "funnel": ("dates", "source", "device"),
    "acquisition": ("dates", "source", "medium", "campaign"),
    "products": ("dates", "product"),
    "audience": ("dates", "device", "country"),
    "behaviour": ("dates",),
    "cohorts": ("dates",),
    "data_health": (),
}
FUNNEL_BREAKDOWNS = ("source", "device")
ATTRIBUTION_MODELS = {"first_touch": "First touch", "last_non_direct": "Last non-direct"}
AUDIENCE_DIMENSIONS = ("country", "device", "os", "browser")
PAGE_ORDERS = ("pageviews", "entrances", "exits")


@dataclass(frozen=True, kw_only=True)
class Choices:
    """What the sidebar's filters hold besides the days, shared by `Filters` and a link's
    `View`: the chosen values of each list filter (empty: all) and the period the KPI cards
    and trend charts compare against (`COMPARISONS`). Keyword-only."""

    sources: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    mediums: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    comparison: str = "previous"

    def choices(self) -> dict[str, object]:
        """These choices alone, as keyword arguments for a `Filters` or a `View`."""
        return {f.name: getattr(self, f.name) for f in fields(Choices)}


@dataclass(frozen=True)
class Filters(Choices):
    """The sidebar's global filters: an inclusive date range and the `Choices`."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The same filters over the period of equal length that ends the day before `start`."""
        return replace(self, start=self.start - timedelta(days=self.days),
                       end=self.start - timedelta(days=1))

    def compared(self) -> Filters | None:
        """The same filters over the comparison period, or None for no comparison."""
        span = comparison_range(self.start, self.end, self.comparison)
        return None if span is None else replace(self, start=span[0], end=span[1])

    def params(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "sources": list(self.sources),
            "devices": list(self.devices),
            "countries": list(self.countries),
            "mediums": list(self.mediums),
            "campaigns": list(self.campaigns),
            "products": list(self.products),
        }


# -- time: presets and comparisons (pure: the sidebar and the tests call the same functions) ----

PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last_7": "Last 7 days",
    "last_28": "Last 28 days",
    "last_90": "Last 90 days",
    "month_to_date": "Month to date",
    "last_month": "Last month",
    "custom": "Custom",
}
DEFAULT_PRESET = "last_7"
COMPARISONS = {
    "previous": "Previous period",
    "year": "Same period last year (by weekday)",
    "none": "No comparison",
}
YEAR_BACK = timedelta(days=364)  # 52 weeks: a Monday is compared with a Monday


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The inclusive days of `preset`, where `today` is the newest day with data in the lake
    (the data need not be from the wall clock's today): 'today', 'yesterday', 'last_7',
    'last_28', 'last_90' (ending today), 'month_to_date' or 'last_month' (the whole calendar
    month before today's)."""
    if preset == "today":
        return today, today
    if preset == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if preset in ("last_7", "last_28", "last_90"):
        return today - timedelta(days=int(preset.split("_")[1]) - 1), today
    if preset == "month_to_date":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(f"unknown date preset {preset!r}: use one of {', '.join(PRESETS)}")


def comparison_range(start: date, end: date, comparison: str) -> tuple[date, date] | None:
    """The days `start`..`end` are compared with: the period of equal length just before
    ('previous'), the same weekdays 52 weeks earlier ('year'), or None ('none')."""
    if comparison == "previous":
        days = end - start + timedelta(days=1)
        return start - days, start - timedelta(days=1)
    if comparison == "year":
        return start - YEAR_BACK, end - YEAR_BACK
    if comparison == "none":
        return None
    raise ValueError(f"unknown comparison {comparison!r}: use one of {', '.join(COMPARISONS)}")


# The URL's query parameters: one per filter, a list filter as a repeated parameter.
URL_LISTS = {"source": "sources", "device": "devices", "country": "countries",
             "medium": "mediums", "campaign": "campaigns", "product": "products"}
URL_KEYS = ("preset", "start", "end", "compare", *URL_LISTS)


@dataclass(frozen=True)
class View(Choices):
    """What the sidebar shows, as a shared link carries it: a preset (resolved against the
    lake's newest day when the page opens) or custom `start`/`end`, and the `Choices` (the
    comparison and every list filter, `URL_LISTS`: parameter → field)."""

    preset: str = DEFAULT_PRESET
    start: date | None = None
    end: date | None = None

    def dates(self, today: date) -> tuple[date, date]:
        """The inclusive days this view shows when the lake's newest day is `today`."""
        if self.preset == "custom" and self.start and self.end:
            return self.start, self.end
        return preset_range(self.preset if self.preset != "custom" else DEFAULT_PRESET, today)

    def filters(self, today: date) -> Filters:
        start, end = self.dates(today)
        return Filters(start, end, **self.choices())


def view_to_query(view: View) -> dict[str, str | list[str]]:
    """The query parameters of a link to `view` (empty lists left out)."""
    out: dict[str, str | list[str]] = {"preset": view.preset}
    if view.preset == "custom":
        out.update(start=view.start.isoformat(), end=view.end.isoformat())
    out["compare"] = view.comparison
    for key, field in URL_LISTS.items():
        if getattr(view, field):
            out[key] = list(getattr(view, field))
    return out


def view_from_query(query: dict[str, list[str]]) -> tuple[View, list[str]]:
    """The view a link's query parameters (each a list of values) describe, and one line per
    value that could not be used (that part falls back to its default)."""
    problems: list[str] = []

    def single(key: str, allowed: dict | None, default: str) -> str:
        values = query.get(key) or []
        if not values:
            return default
        if allowed is not None and values[-1] not in allowed:
            problems.append(f"ignored {key}={values[-1]!r} from the link: use one of "
                            f"{', '.join(allowed)}")
            return default
        return values[-1]

    preset = single("preset", PRESETS, DEFAULT_PRESET)
    comparison = single("compare", COMPARISONS, "previous")
    start = end = None
    if preset == "custom":
        try:
            start = date.fromisoformat(single("start", None, ""))
            end = date.fromisoformat(single("end", None, ""))
            if start > end:
                raise ValueError("start after end")
        except ValueError:
            problems.append("ignored the link's custom dates: they need start=YYYY-MM-DD and "
                            "end=YYYY-MM-DD, start not after end")
            preset, start, end = DEFAULT_PRESET, None, None
    lists = {field: tuple(dict.fromkeys(v for v in query.get(key) or [] if v))
             for key, field in URL_LISTS.items()}
    return View(preset, start, end, comparison=comparison, **lists), problems


@cache
def queries() -> dict[str, str]:
    """The sections of `sql/dashboard.sql` by name. A section with a `-- union: <file>` line
    reads `source_rows`: every source format's `<file>`, unioned (as a check does)."""
    out = sections((SQL_DIR / "dashboard.sql").read_text())
    for name, (sql, file) in _unions().items():
        out[name] = sources.with_union(sql, file, f"dashboard.sql {name}")
    return out


@cache
def _unions() -> dict[str, tuple[str, str]]:
    """The sections with a `-- union: <file>` line: their own SQL and the file."""
    out = {}
    for name, sql in sections((SQL_DIR / "dashboard.sql").read_text()).items():
        union = re.search(r"^-- union: (\S+)$", sql, re.MULTILINE)
        if union:
            out[name] = (sql, union.group(1))
    return out


def query_sql(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The SQL of the query `name` on this lake: a query over every source format's rows reads
    only the formats with data in the lake, as the checks do (planning a query that names a
    never-written raw table costs a catalog query per column it names, duckdb/ducklake#1313)."""
    if name not in _unions():
        return queries()[name]
    own, file = _unions()[name]
    return sources.with_union(own, file, name, only=sources.to_read(con)) or queries()[name]


def run(con: duckdb.DuckDBPyConnection, name: str, **params: object) -> pd.DataFrame:
    """Run the query `name`, binding the parameters it names (DuckDB rejects unused ones)."""
    sql = query_sql(con, name)
    used = set(re.findall(r"\$(\w+)", sql))
    missing = used - params.keys()
    if missing:
        raise ValueError(f"query {name} needs parameters {', '.join(sorted(missing))}")
    return con.execute(sql, {k: v for k, v in params.items() if k in used}).df()


def _one_of(value: str, allowed: tuple[str, ...] | dict, what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


# -- the sidebar -------------------------------------------------------------------------------

def date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """The first and last day in `mart.daily_kpis`, or None when it has no rows yet."""
    row = run(con, "date_bounds").iloc[0]
    if pd.isna(row["first_day"]):
        return None
    return pd.Timestamp(row["first_day"]).date(), pd.Timestamp(row["last_day"]).date()


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values the sidebar offers: sources, devices and countries seen in the traffic mart."""
    row = run(con, "filter_options").iloc[0]
    return {k: list(row[k]) if row[k] is not None else [] for k in ("sources", "devices",
                                                                      "countries")}


def campaign_and_product_options(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The sidebar's other values: UTM mediums and campaigns in the acquisition mart, product
    ids in the product mart, and `product_names` (id → latest name)."""
    mediums, campaigns, names = con.execute(
        queries()["campaign_and_product_options"]).fetchone()
    names = dict(names or {})
    return {"mediums": list(mediums or []), "campaigns": list(campaigns or []),
            "products": sorted(names), "product_names": names}


# -- pages -------------------------------------------------------------------------------------

def kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, float | None]:
    """The headline numbers of the period: visitors (distinct), sessions, orders, revenue,
    conversion rate (orders / sessions) and average order value (revenue / orders)."""
    row = run(con, "kpis", **f.params()).iloc[0]
    return {k: None if pd.isna(v) else float(v) for k, v in row.items()}


def daily_trend(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Sessions, orders, revenue and conversion per day."""
    return run(con, "daily_trend", **f.params())


def hourly_trend(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Sessions, pageviews, orders and revenue per hour."""
    return run(con, "hourly_trend", **f.params())


def daily_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """`mart.daily_kpis` over the date range: the whole shop, it has no other dimension."""
    return run(con, "daily_kpis", **f.params())


def funnel(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Sessions reaching each funnel step, with step and overall conversion."""
    return run(con, "funnel", **f.params())


def funnel_by(con: duckdb.DuckDBPyConnection, f: Filters, by: str) -> pd.DataFrame:
    """The funnel per `segment`, where `by` is 'source' or 'device'."""
    return run(con, "funnel_by", **f.params(), by=_one_of(by, FUNNEL_BREAKDOWNS, "breakdown"))


def acquisition(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Sessions, bounce rate, orders, revenue and conversion per source / medium / campaign."""
    return run(con, "acquisition", **f.params())


def attribution(con: duckdb.DuckDBPyConnection, f: Filters, model: str) -> pd.DataFrame:
    """Orders and revenue credited to each source / medium / campaign under `model`
    ('first_touch' or 'last_non_direct'), with each one's share of the revenue."""
    model = _one_of(model, ATTRIBUTION_MODELS, "attribution model")
    return run(con, "attribution", **f.params(), model=model)


def attribution_by_model(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Revenue per source under each attribution model, side by side."""
    return run(con, "attribution_by_model", **f.params())


def top_products(con: duckdb.DuckDBPyConnection, f: Filters, limit: int = 20) -> pd.DataFrame:
    """The best-selling products by revenue, with cart adds, units and cart-to-purchase rate."""
    return run(con, "top_products", **f.params(), limit=limit)


def categories(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Cart adds, units, orders and revenue per category."""
    return run(con, "categories", **f.params())


def price_bands(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per price band: cart adds, units bought and the share of cart adds that were bought."""
    return run(con, "price_bands", **f.params())


def audience_by(con: duckdb.DuckDBPyConnection, f: Filters, dimension: str) -> pd.DataFrame:
    """Sessions, bounce rate, orders, revenue and conversion per `value` of `dimension`
    ('country', 'device', 'os' or 'browser')."""
    dimension = _one_of(dimension, AUDIENCE_DIMENSIONS, "audience dimension")
    return run(con, "audience_by", **f.params(), dimension=dimension)


def regions(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Sessions, orders, revenue and conversion per country and region."""
    return run(con, "regions", **f.params())


# Country shapes for the world map, bundled so it draws with no tile server and no network:
# world-atlas 2.0.2 countries-110m.json (ISC licence, © Michael Bostock; clicklake/data/README.md)
WORLD_SHAPES = Path(__file__).with_name("data") / "world-110m.json"
MAP_MEASURES = ("sessions", "revenue")
_NO_DATA_GREY = "#e4e4e4"
_ANTARCTICA = "010"


@cache
def world_topology() -> dict:
    """The bundled TopoJSON of the world's countries (object `countries`, features keyed by
    their ISO 3166 numeric id, "276" for Germany)."""
    return json.loads(WORLD_SHAPES.read_text(encoding="utf-8"))


def map_countries(countries: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`audience_by(..., "country")` rows the map can draw — with their shape `id` and a
    `country` label ("Germany (DE)") — and how many sessions it cannot place (an unknown
    country, or one too small for the map's scale, such as Singapore)."""
    shapes = {g["id"] for g in world_topology()["objects"]["countries"]["geometries"]
              if "id" in g}  # a few disputed shapes (Kosovo) have none
    rows = countries.assign(
        id=countries["value"].map(lambda c: formatting.COUNTRY_NUMERIC.get(str(c).upper())),
        country=countries["value"].map(formatting.country))
    drawn = rows["id"].isin(shapes)
    return (rows.loc[drawn, ["id", "country", "sessions", "revenue"]],
            int(rows.loc[~drawn, "sessions"].sum()))


def world_map(countries: pd.DataFrame, measure: str = "sessions", height: int = 380):
    """An Altair choropleth of `measure` ('sessions' or 'revenue') by country over the bundled
    shapes, passed inline (no URL): a sequential blue scale, countries without data light
    grey, a tooltip with the country, its sessions and revenue (draw it with the dashboard's
    locale so revenue carries the currency)."""
    import altair as alt

    measure = _one_of(measure, MAP_MEASURES, "map measure")
    rows, _ = map_countries(countries)
    shapes = alt.InlineData(values=world_topology(),
                            format=alt.DataFormat(type="topojson", feature="countries"))
    base = alt.Chart(shapes).transform_filter(f"datum.id != '{_ANTARCTICA}'")
    land = base.mark_geoshape(fill=_NO_DATA_GREY, stroke="white", strokeWidth=0.5).encode(
        tooltip=[alt.Tooltip("properties.name:N", title="Country"),
                 alt.Tooltip("no_data:N", title="Sessions")],
    ).transform_calculate(no_data="'none in this period'")
    tip = {"sessions": formatting.COUNT_AXIS, "revenue": formatting.MONEY_TIP}
    filled = base.transform_lookup(
        lookup="id",
        from_=alt.LookupData(alt.InlineData(values=rows.to_dict("records")), key="id",
                             fields=["country", "sessions", "revenue"]),
    ).transform_filter("isValid(datum.sessions)").mark_geoshape(
        stroke="white", strokeWidth=0.5,
    ).encode(
        color=alt.Color(f"{measure}:Q", title=formatting.label(measure),
                        scale=alt.Scale(scheme=alt.SchemeParams("blues", extent=[0.3, 1])),
                        legend=alt.Legend(format=tip[measure].replace(".2f", ".0f"),
                                          orient="bottom-left", gradientLength=160)),
        tooltip=[alt.Tooltip("country:N", title="Country"),
                 *(alt.Tooltip(f"{m}:Q", title=formatting.label(m), format=tip[m])
                   for m in MAP_MEASURES)],
    )
    return alt.layer(land, filled).project("equalEarth").properties(height=height)


def pages(
    con: duckdb.DuckDBPyConnection, f: Filters, order: str = "pageviews", limit: int = 15
) -> pd.DataFrame:
    """The top pages by `order`: 'pageviews', 'entrances' (entry pages) or 'exits'."""
    order = _one_of(order, PAGE_ORDERS, "page order")
    return run(con, "pages", **f.params(), order=order, limit=limit)


def paths(
    con: duckdb.DuckDBPyConnection, f: Filters, limit: int = 20, converted_only: bool = False
) -> pd.DataFrame:
    """The most common page-type paths through a visit, with how many of them converted
    (only the converting visits' paths with `converted_only`)."""
    return run(con, "paths", **f.params(), limit=limit, converted_only=converted_only)


def path_page_types(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per page type: the visits whose path passes through it, how many converted, and the
    share of all converting visits (`share_of_converting`) and of all other visits
    (`share_of_other`) that reach it: where the two kinds of visit differ."""
    return run(con, "path_page_types", **f.params())


def path_prefixes(
    con: duckdb.DuckDBPyConnection, f: Filters, steps: int = 3, limit: int = 15
) -> pd.DataFrame:
    """Visits grouped by their path's first `steps` page types (1 to 6, `path_start`), with
    how many converted, their conversion rate and their share of all visits."""
    if not 1 <= steps <= 6:
        raise ValueError(f"steps must be 1 to 6 (a path keeps six), not {steps}")
    return run(con, "path_prefixes", **f.params(), steps=steps, limit=limit)


def session_lengths(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """How many visits lasted how long (first to last event), in fixed buckets."""
    return run(con, "session_lengths", **f.params())


def session_length_summary(con: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, float]:
    """Visits, and the median, mean and 90th percentile of their duration in seconds."""
    row = run(con, "session_length_summary", **f.params()).iloc[0]
    return {k: None if pd.isna(v) else float(v) for k, v in row.items()}


def cohorts(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Weekly retention of the cohorts first seen in the weeks the date range touches."""
    return run(con, "cohorts", **f.params())


# -- data health (the pipeline's own records: the sidebar filters do not apply) ----------------

def freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per stream of the formats with data: its format, status ('fresh', 'stale', ...) and
    `stale`, judged by its cadence from its newest events' age and its last successful run;
    the newest events' hour (day), their age in hours, last successful run, last load (and
    minutes since), files, rows loaded and rejected."""
    return run(con, "freshness", sources=sources.as_json())


def unread_streams(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Source folders no source format declares (their files were not read), as last seen."""
    return run(con, "unread_streams")


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 24) -> pd.DataFrame:
    """The last pipeline runs: status, rows loaded, seconds per step and wall-clock seconds."""
    return run(con, "recent_runs", limit=limit)


def rejected_by_reason(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected source lines per stream and reason."""
    return run(con, "rejected_by_reason")


def quarantined_files(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """Source files rejected whole (unreadable, corrupt, not Parquet), newest first: stream,
    object key, version, reason, rows rejected and when."""
    return run(con, "quarantined_files", limit=limit)


def check_results(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each check's latest result, and in how many recorded runs it failed."""
    return run(con, "check_results")


def snapshots(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """The latest lake snapshots (the points time travel can go back to) and what changed."""
    return run(con, "snapshots", limit=limit)


def as_of_snapshots(
    con: duckdb.DuckDBPyConnection, pinned: int | None = None, limit: int = 200
) -> pd.DataFrame:
    """The snapshots the "as of" control offers, newest first: the latest `limit` that changed
    a mart, and `pinned` (a link's) whatever it changed, if the lake still has it; each with
    `snapshot_id`, `snapshot_time` and `commit_message`."""
    return run(con, "as_of_snapshots", pinned=pinned, limit=limit)


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The snapshot the connection reads (the pinned one, on an "as of" connection)."""
    return con.execute("select id from lake.current_snapshot()").fetchone()[0]


def restated_days(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every reported day, newest first: how often its figures moved after it was first reported
    (`moves`), how often after a later day had been reported (`late_moves`), its builds, and
    its first and current events and revenue."""
    return run(con, "restated_days", last=current_snapshot(con))


@dataclass(frozen=True)
class DayHistory:
    """How one day's figures moved between the lake's snapshots, and why.

    `versions`: each build of the day (snapshot, commit message, figures, `*_change` from the
    version before, `why` it moved: `explain`). `files`: for each version, the files loaded
    since the one before, with the ledger's rows, the rejection reasons, whether the file was
    late, the day's raw events in it (`raw_events`), the events stage kept (`events_kept`) and
    the `duplicates` it removed."""

    versions: pd.DataFrame
    files: pd.DataFrame


def day_history(con: duckdb.DuckDBPyConnection, day: date, tz: str) -> DayHistory:
    """The versions of `day` (reporting days in `tz`) up to the connection's snapshot and the
    files behind each move (see DayHistory)."""
    last = current_snapshot(con)
    versions = run(con, "day_versions", day=day, last=last)
    late_days = -(-max(f.late_hours for f in sources.formats()) // 24)
    files = run(con, "day_files", day=day, last=last, late_days=late_days, tz=tz)
    versions["why"] = [explain(v, files[files["version"] == v["snapshot_id"]])
                       for _, v in versions.iterrows()]
    return DayHistory(versions, files)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def explain(version: pd.Series, files: pd.DataFrame) -> str:
    """Why a version's figures moved, in one line: the events its late and on-time files added,
    the duplicates removed and the lines rejected (or that nothing was loaded: a rebuild)."""
    if pd.isna(version["previous_snapshot"]):
        first = f"first reported: {_count(int(version['events']), 'event')}"
        return first + (f" from {_count(len(files), 'file')}" if len(files) else "")
    parts = []
    for late, name in ((False, "on-time"), (True, "late")):
        some = files[(files["late"] == late) & (files["events_kept"] != 0)]
        if len(some):
            parts.append(f"{int(some['events_kept'].sum()):+,} events from "
                         f"{_count(len(some), name + ' file')}")
    dup = files[files["duplicates"] > 0]
    if len(dup):
        parts.append(f"{_count(int(dup['duplicates'].sum()), 'duplicate')} removed "
                     f"({_count(len(dup), 'file')})")
    bad = files[files["rows_rejected"] > 0]
    if len(bad):
        reasons = "; ".join(sorted({r for r in bad["reasons"].dropna()}))
        parts.append(f"{_count(int(bad['rows_rejected'].sum()), 'line')} rejected"
                     + (f" ({reasons})" if reasons else ""))
    if not parts:
        return ("rebuilt with no new rows for this day (a rule or model changed, or another "
                "day's files were loaded)")
    return "; ".join(parts)
