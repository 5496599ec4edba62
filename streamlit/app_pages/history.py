"""What changed: how each day's figures moved between the lake's snapshots, and why (late files,
duplicates removed, rejected lines), from DuckLake's change feed and the load ledger."""

from datetime import date

import altair as alt
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
                 day=st.column_config.DateColumn("day", format="ddd D MMM YYYY"),
                 last_moved=st.column_config.DatetimeColumn("last moved (UTC)",
                                                            format="D MMM YYYY HH:mm"),
                 first_events="events first reported", first_revenue="revenue first reported")

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
    chart = alt.Chart(versions).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("snapshot_time:T", title="snapshot (UTC)",
                axis=alt.Axis(format="%d %b %H:%M", labelAngle=0, tickCount=6)),
        y=alt.Y("events:Q", title="events of the day", scale=alt.Scale(zero=False)),
        color=alt.value(formatting.PALETTE[0]),
        tooltip=[alt.Tooltip("snapshot_id:Q", title="snapshot"),
                 alt.Tooltip("snapshot_time:T", title="at (UTC)", format="%d %b %Y %H:%M"),
                 alt.Tooltip("events:Q", format=","), alt.Tooltip("events_change:Q", format="+,"),
                 alt.Tooltip("why:N")],
    ).properties(height=220)
    ui.show(chart)

st.subheader("Each build of the day")
# why each build moved the figures (the reasons are ClickLake's own words: no markup in them)
st.markdown("\n".join(f"- **{v.snapshot_time:%d %b %H:%M} UTC** (snapshot {v.snapshot_id}): "
                       f"{v.why}" for v in versions.itertuples()))
ui.table(versions[["snapshot_id", "snapshot_time", "commit_message", "events", "events_change",
                   "sessions_change", "orders_change", "revenue_change"]],
         download_name=f"day-versions-{day}",
         snapshot_id=st.column_config.NumberColumn("snapshot", format="%d", width=70),
         snapshot_time=st.column_config.DatetimeColumn("at (UTC)", format="D MMM HH:mm"),
         commit_message=st.column_config.TextColumn("commit", width="medium"),
         events_change=ui.column("events_change", "Δ events", width=ui.NARROW),
         sessions_change=ui.column("sessions_change", "Δ sessions", width=ui.NARROW),
         orders_change=ui.column("orders_change", "Δ orders", width=ui.NARROW),
         revenue_change=ui.column("revenue_change", "Δ revenue", width=ui.NARROW))

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
             download_name=f"day-files-{day}",
             version=st.column_config.NumberColumn("build", format="%d", width=55),
             file=st.column_config.TextColumn("file", width=210),
             late=st.column_config.CheckboxColumn("late", width=45),
             rows_in=ui.column("rows_in", "lines", width=ui.NARROW),
             rows_rejected=ui.column("rows_rejected", "rejected", width=ui.NARROW),
             reasons=st.column_config.TextColumn("because", width=100),
             raw_events=ui.column("raw_events", "events", width=ui.NARROW),
             events_kept=ui.column("events_kept", "kept", width=ui.NARROW),
             duplicates=ui.column("duplicates", "duplicates", width=ui.NARROW))
if moved.empty and len(versions) > 1:
    st.caption("The day's events never moved after it was first reported.")
