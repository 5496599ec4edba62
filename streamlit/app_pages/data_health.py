"""Data health: is the data fresh, did the runs work, what was rejected, what changed."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

st.title("Data health")
st.caption("The pipeline's own records (ops.* and the lake's snapshots); the sidebar filters "
           "do not apply.")

fresh = ui.query(db.freshness)
runs = ui.query(db.recent_runs, 24)
checks = ui.query(db.check_results)
a, b, c, d = st.columns(4)
a.metric("Last load", "–" if fresh.empty else f"{fresh['minutes_ago'].min():,} min ago",
         border=True)
b.metric("Streams", len(fresh), border=True)
c.metric("Failed runs (last 24)", int((runs["status"] != "ok").sum()), border=True)
c_ok = int((checks["status"] == "pass").sum())
d.metric("Checks passing", f"{c_ok} / {len(checks)}", border=True)

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
    ui.table(quarantined, object="object key", rows_rejected=ui.INT,
             quarantined_at=st.column_config.DatetimeColumn("quarantined (UTC)"))

st.subheader("Freshness per stream")
ui.table(fresh, last_loaded_at=st.column_config.DatetimeColumn("last loaded (UTC)"),
         minutes_ago="minutes ago", files=ui.INT, rows_loaded=ui.INT, rows_rejected=ui.INT)

st.subheader("Recent runs")
if not runs.empty:
    steps = runs.melt("run_id", ["extract_s", "load_s", "transform_s", "checks_s"],
                      var_name="step", value_name="step_seconds")
    steps["step"] = steps["step"].str.removesuffix("_s")
    st.altair_chart(
        alt.Chart(steps).mark_bar().encode(
            x=alt.X("run_id:N", sort=list(runs["run_id"][::-1]), title=None,
                    axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("step_seconds:Q", title="seconds (summed over streams)"),
            color=alt.Color("step:N", sort=["extract", "load", "transform", "checks"]),
            tooltip=["run_id", "step", alt.Tooltip("step_seconds:Q", format=".2f")],
        ).properties(height=260)
    )
ui.table(runs, started_at=st.column_config.DatetimeColumn("started (UTC)"),
         finished_at=st.column_config.DatetimeColumn("finished (UTC)"), rows_loaded=ui.INT,
         seconds=st.column_config.NumberColumn("wall seconds", format="%.2f"))

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
    ui.table(checks, check_name="check", failing_rows=ui.INT,
             checked_at=st.column_config.DatetimeColumn("last checked (UTC)"),
             failed_runs="failed runs")

st.subheader("Lake snapshots")
st.caption("Each commit to the lake is a snapshot you can time-travel to "
           "(`from mart.daily_kpis at (version => N)`).")
ui.table(ui.query(db.snapshots, 50), snapshot_id="snapshot",
         snapshot_time=st.column_config.DatetimeColumn("time (UTC)"),
         commit_message="commit message", changes="what changed")
