"""Data health: is the data fresh, did the runs work, what was rejected, what changed."""

import altair as alt
import pandas as pd
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

STEPS = ["extract", "load", "transform", "checks"]
HIDE = {"hidden": True}  # kept in the data (the tests read it), not shown


def age(hours: float | None) -> str:
    """An age in hours as a person says it: '40 min', '5 h', '3 days', '2 years'."""
    if hours is None or pd.isna(hours):
        return "–"
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.0f} h"
    days = hours / 24
    if days < 60:
        return f"{days:.0f} days"
    if days < 365:
        return f"{days / 30.4:.0f} months"
    years = days / 365
    return f"{years:.0f} years" if years >= 1.5 else f"{years:.1f} years"


st.title("Data health")
st.caption("The pipeline's own records (ops.* and the lake's snapshots); the sidebar filters "
           "do not apply.")

fresh = ui.query(db.freshness)
runs = ui.query(db.recent_runs, 24)
checks = ui.query(db.check_results)
judged = fresh[~fresh["status"].str.contains("optional")]
stale = judged[judged["stale"]]
a, b, c, d = st.columns(4)
newest = judged["events_age_hours"].min() if not judged.empty else None
a.metric("Newest events", "–" if newest is None or pd.isna(newest) else f"{age(newest)} old",
         border=True, help="How old the newest loaded events are (their hour, or day for a "
         "daily export), against the clock: not when they were loaded.")
b.metric("Stale streams", f"{len(stale)} / {len(judged)}", border=True,
         help="Judged by each stream's cadence: hourly streams within 3 h, daily exports "
         "within a day plus their late-data window; and by the last successful run.")
c.metric("Failed runs (last 24)", int((runs["status"] != "ok").sum()), border=True)
c_ok = int((checks["status"] == "pass").sum())
d.metric("Checks passing", f"{c_ok} / {len(checks)}", border=True)

for _, row in stale.iterrows():
    ran = row["last_ok_run_at"]
    ran = "never" if pd.isna(ran) else f"{ran:%Y-%m-%d %H:%M} UTC"
    st.warning(f"**{row['stream']}** ({row['format']}) is {row['status']}: newest events "
             f"{age(row['events_age_hours'])} old, last successful run {ran} "
             f"({row['expected']}).")

unread = ui.query(db.unread_streams)
for message in unread["message"]:  # source folders no format reads, as the last run said
    st.warning(message)

quarantined = ui.query(db.quarantined_files)
if not quarantined.empty:  # whole files that could not be read: name each one
    n = len(quarantined)
    what = f"{n} source files were" if n != 1 else "1 source file was"
    st.warning(f"{what} quarantined: rejected whole, none of its rows loaded (reasons below). "
               "Fix the file and upload it again: a new version is read on the next run.")
    st.subheader("Quarantined files")
    ui.table(quarantined, rows_rejected=ui.INT, wrap=True,
             quarantined_at=st.column_config.DatetimeColumn("Quarantined (UTC)"))

st.subheader("Freshness per stream")
fresh = fresh.assign(age=fresh["events_age_hours"].map(age))
ui.table(
    fresh,
    newest_events=st.column_config.DatetimeColumn("Newest events (UTC)",
                                                  format="YYYY-MM-DD HH:mm"),
    expected=st.column_config.TextColumn(
        "Due", help="How soon after its newest hour (day) a stream is stale: hourly streams "
        "3 h, daily exports a day plus their late-data window"),
    last_ok_run_at=st.column_config.DatetimeColumn("Last good run", format="MM-DD HH:mm"),
    rows_loaded=st.column_config.NumberColumn("Loaded", format="localized"),
    rows_rejected=st.column_config.NumberColumn("Rejected", format="localized"),
    stale=HIDE, events_age_hours=HIDE, minutes_ago=HIDE, files=HIDE, last_loaded_at=HIDE,
)
st.caption("Newest events: the hour (for a daily export, the day) of the newest file a stream "
           "loaded rows from, aged against the clock. Last good run: the last run whose every "
           "step succeeded and that loaded this stream.")

st.subheader("Recent runs")
if not runs.empty:
    # one cell per run and step, coloured by its seconds: a 0.05 s check is as visible as a
    # 3 s load, and 1 or 100 runs fit the width (the seconds are printed when they fit)
    order = runs.sort_values(["started_at", "run_id"]).reset_index(drop=True)
    order["run"] = order["started_at"].dt.strftime("%m-%d %H:%M:%S")
    dup = order["run"].duplicated(keep=False)
    order.loc[dup, "run"] += " #" + (order[dup].groupby("run").cumcount() + 1).astype(str)
    steps = order[["run", "run_id", "status", *(f"{s}_s" for s in STEPS)]].melt(
        ["run", "run_id", "status"],
                       var_name="step", value_name="seconds")
    steps["step"] = steps["step"].str.removesuffix("_s")
    base = alt.Chart(steps).encode(
        x=alt.X("run:N", sort=list(order["run"]), title="Run (start time, UTC)",
                axis=alt.Axis(labelAngle=-40, labelLimit=0, labelOverlap=True)),
        y=alt.Y("step:N", sort=STEPS, title=None,
                axis=alt.Axis(labelLimit=0, labelOverlap=False)),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("seconds:Q", title="Seconds", scale=alt.Scale(type="symlog",
                                                                      scheme="blues")),
        tooltip=[alt.Tooltip("run_id:N", title="Run"), alt.Tooltip("status:N", title="Status"),
                 alt.Tooltip("step:N", title="Step"),
                 alt.Tooltip("seconds:Q", format=".3f", title="Seconds")],
    )
    chart = cells
    if len(order) <= 16:
        chart = cells + base.mark_text(fontSize=11).encode(
            text=alt.Text("seconds:Q", format=".2f"),
            color=alt.condition(alt.datum.seconds > steps["seconds"].max() / 3,
                                alt.value("white"), alt.value("#222")),
        )
    st.altair_chart(chart.properties(height=alt.Step(34)))
    st.caption("Seconds per step of each run (summed over streams), darker is longer; "
               "hover a cell for its run.")
if runs.empty:
    st.caption("No runs recorded yet: `clicklake run` records each one.")
else:  # a failed run's error is long: it wraps in its cell rather than being cut off
    ui.table(runs, wrap=bool(runs["error"].notna().any()),
             run_id=st.column_config.TextColumn("Run"),
             started_at=st.column_config.DatetimeColumn("Started (UTC)",
                                                        format="YYYY-MM-DD HH:mm:ss"),
             rows_loaded=st.column_config.NumberColumn("Rows loaded", format="localized"),
             seconds=st.column_config.NumberColumn("Wall seconds", format="%.2f"),
             error=st.column_config.TextColumn("Error"), finished_at=HIDE,
             extract_s=HIDE, load_s=HIDE, transform_s=HIDE, checks_s=HIDE)

left, right = st.columns(2)
with left:
    st.subheader("Rejected rows by reason")
    rejected = ui.query(db.rejected_by_reason)
    if rejected.empty:
        st.success("No rejected rows.")
    else:
        ui.bars(rejected, "rows", "reason", color="stream", height=260)
        ui.table(rejected, rows=ui.INT)
with right:
    st.subheader("Checks")
    ui.table(checks, check_name="Check", severity=HIDE,
             failing_rows=st.column_config.NumberColumn("Failing", format="localized"),
             checked_at=st.column_config.DatetimeColumn("Checked", format="HH:mm"),
             failed_runs=st.column_config.NumberColumn(
                 "Fails", help="In how many recorded runs the check failed"),
             sample=HIDE, runs=HIDE)

st.subheader("Lake snapshots")
st.caption("Each commit to the lake is a snapshot you can time-travel to "
           "(`from mart.daily_kpis at (version => N)`); its message says what ran.")
# a message names the run, its hours and its rows: rows of three lines let it wrap, whole
ui.table(ui.query(db.snapshots, 50), download_name="snapshots", wrap=True,
         snapshot_id=st.column_config.NumberColumn("Snapshot", format="%d", width=75),
         snapshot_time=st.column_config.DatetimeColumn("Time (UTC)", format="D MMM HH:mm:ss",
                                                       width=115),
         commit_message=st.column_config.TextColumn("What ran", width=390),
         changes=st.column_config.TextColumn(
             "Tables changed", width=230, help="Every table the commit changed; a build of "
             "many tables lists them beyond what the cell shows: the CSV has the whole list."),
         author=HIDE, extra_info=HIDE)
