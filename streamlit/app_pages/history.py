"""What changed: how each day's figures moved between the lake's snapshots, and why (late files,
duplicates removed, rejected lines), from DuckLake's change feed and the load ledger."""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting
from clicklake.config import load_settings

st.title("What changed")
st.caption("Every build of a day is a snapshot of the lake: here is how each day's figures moved "
           "from one to the next and which files moved them. The sidebar's filters do not "
           "apply; its As of does.")

days = ui.query(db.restated_days)
if days.empty:
    st.info(db.NO_DATA, icon=":material/hourglass_empty:")
    st.stop()

restated = days[days["late_moves"] > 0]
a, b, c = st.columns(3)
a.metric("Days reported", f"{len(days):,}", border=True)
b.metric("Days restated", f"{len(restated):,}", border=True,
         help="Days whose events, sessions, orders or revenue changed after a later day had "
              "been reported: late files, a rebuild after a fix.")
c.metric("Late moves in all", f"{int(days['late_moves'].sum()):,}", border=True,
         help="Changes to a day's figures after a later day had been reported; moves while a "
              "day is the newest (its hours arriving) are not counted.")

if not restated.empty:
    with st.expander(f"Restated days ({len(restated):,})", expanded=True):
        ui.table(restated[["day", "late_moves", "last_moved", "first_events", "events",
                           "first_revenue", "revenue"]], download_name="restated-days",
                 day=st.column_config.DateColumn("Day", format="ddd D MMM YYYY"),
                 last_moved=st.column_config.DatetimeColumn("Last moved (UTC)",
                                                            format="D MMM YYYY HH:mm"),
                 first_events="Events first reported", first_revenue="Revenue first reported")

# the day to explain: the link's (?day=YYYY-MM-DD), else the day that moved last, else the newest
choices = [d.date() for d in days["day"]]
default = (restated.sort_values("last_moved")["day"].iloc[-1].date() if not restated.empty
           else choices[0])
try:
    wanted = date.fromisoformat(st.query_params.get("day", ""))
except ValueError:
    wanted = None
day = st.selectbox("Day", choices, index=choices.index(wanted if wanted in choices else default),
                   format_func=lambda d: f"{d:%a %d %b %Y}")
st.query_params["day"] = day.isoformat()

history = ui.query(db.day_history, day, load_settings().timezone)
versions = history.versions
first, last = versions.iloc[0], versions.iloc[-1]
moved = versions[versions["events_change"].fillna(0) != 0]
st.subheader(f"{day:%d %b %Y}: {ui.fmt_int(first['events'])} events when first reported, "
             f"{ui.fmt_int(last['events'])} now")

if len(versions) > 1:
    # builds minutes apart would all read "07 Dec 04:23": then the ticks show seconds
    span = versions["snapshot_time"].max() - versions["snapshot_time"].min()
    when = "%H:%M:%S" if span < pd.Timedelta(hours=1) else "%d %b %H:%M"
    chart = alt.Chart(versions).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("snapshot_time:T", title="Snapshot (UTC)", scale=alt.Scale(type="utc"),
                axis=alt.Axis(format=when, labelAngle=0, tickCount=6, labelOverlap=True)),
        y=alt.Y("events:Q", title="Events of the day", scale=alt.Scale(zero=False),
                axis=alt.Axis(format=formatting.COUNT_AXIS)),
        color=alt.value(formatting.PALETTE[0]),
        tooltip=[alt.Tooltip("snapshot_id:Q", title="Snapshot"),
                 alt.Tooltip("utcyearmonthdatehoursminutesseconds(snapshot_time):T",
                             title="At (UTC)", format="%d %b %Y %H:%M:%S"),
                 alt.Tooltip("events:Q", format=",", title="Events"),
                 alt.Tooltip("events_change:Q", format="+,", title="Δ events"),
                 alt.Tooltip("why:N", title="Why")],
    ).properties(height=220)
    ui.show(chart)

st.subheader("Each build of the day")
# why each build moved the figures (the reasons are ClickLake's own words: no markup in them)
st.markdown("\n".join(f"- **{v.snapshot_time:%d %b %H:%M} UTC** (snapshot {v.snapshot_id}): "
                       f"{v.why}" for v in versions.itertuples()))
ui.table(versions[["snapshot_id", "snapshot_time", "commit_message", "events", "events_change",
                   "sessions_change", "orders_change", "revenue_change"]],
         # the build's commit message wraps in its cell (a build per row: few rows); a day's
         # first build has no change: its Δ cells read "–"
         download_name=f"day-versions-{day}", wrap=True,
         snapshot_id=st.column_config.NumberColumn("Snapshot", format="%d", width=75),
         snapshot_time=st.column_config.DatetimeColumn("At (UTC)", format="D MMM HH:mm",
                                                       width=95),
         commit_message=st.column_config.TextColumn("Commit", width=250),
         events=ui.column("events", width=70),
         events_change=ui.column("events_change", "Δ events", width=ui.NARROW),
         sessions_change=ui.column("sessions_change", "Δ sessions", width=ui.NARROW),
         orders_change=ui.column("orders_change", "Δ orders", width=ui.NARROW),
         revenue_change=ui.column("revenue", "Δ revenue", width=ui.NARROW))

st.subheader("The files behind each move")
files = history.files
if files.empty:
    st.caption("No file touched this day.")
else:
    st.caption("Each file loaded between a build and the one before it that holds events of "
               "this day (its key below its stream's folder): its lines (in = loaded + "
               "rejected), the day's events in it, how many stage kept and how many it removed "
               "as copies of events that arrived first. Late: it holds events from before its "
               "folder's hour, or arrived after its hour ran.")
    ui.table(files[["version", "file", "late", "rows_in", "rows_rejected", "reasons",
                    "raw_events", "events_kept", "duplicates"]],
             # a file's key whole (date=…/hour=…/part-….jsonl.gz); rejection reasons wrap
             download_name=f"day-files-{day}",
             wrap=bool(files["reasons"].fillna("").astype(str).str.strip().ne("").any()),
             version=st.column_config.NumberColumn("Build", format="%d", width=55),
             file=st.column_config.TextColumn("File", width=300),
             late=st.column_config.CheckboxColumn("Late", width=45),
             rows_in=ui.column("rows_in", "Lines", width=60),
             rows_rejected=ui.column("rows_rejected", "Rejected", width=72),
             reasons=st.column_config.TextColumn("Because", width=80),
             raw_events=ui.column("raw_events", "Events", width=62),
             events_kept=ui.column("events_kept", "Kept", width=56),
             duplicates=ui.column("duplicates", "Duplicates"))
if moved.empty and len(versions) > 1:
    st.caption("The day's events never moved after it was first reported.")
