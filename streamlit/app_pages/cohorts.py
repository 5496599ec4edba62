"""Cohorts: of the visitors first seen in a week, how many come back in later weeks."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting

st.title("Cohorts")
f = ui.filters("cohorts")
st.caption("Cohort = the week (Monday) of a visitor's first visit; week 0 is that week. "
           "The cohorts shown start in the weeks the date range touches: widen it for more.")
cohorts = ui.query(db.cohorts, f)
if cohorts.empty:
    st.info("No cohorts start in this period.")
    st.stop()

cohorts["cohort"] = cohorts["cohort_week"].dt.strftime("%Y-%m-%d") + " (" + cohorts[
    "cohort_visitors"].map("{:,}".format) + ")"
base = alt.Chart(cohorts).encode(
    x=alt.X("week_number:O", title="Weeks since first visit", axis=alt.Axis(labelAngle=0)),
    y=alt.Y("cohort:O", title="Cohort (visitors)"),
)
heat = base.mark_rect().encode(
    color=alt.Color("retention:Q", title="Retention",
                    scale=alt.Scale(scheme="blues", domain=[0, 1]),
                    legend=alt.Legend(format=".0%")),
    tooltip=[alt.Tooltip("cohort:O", title="Cohort"),
             alt.Tooltip("week_number:O", title="Week"),
             alt.Tooltip("active_visitors:Q", format=formatting.COUNT_AXIS, title="Active"),
             alt.Tooltip("retention:Q", format=formatting.PERCENT_AXIS, title="Retention")],
)
labels = base.mark_text(baseline="middle").encode(
    text=alt.Text("retention:Q", format=".0%"),
    color=alt.condition("datum.retention > 0.5", alt.value("white"), alt.value("black")),
)
ui.show((heat + labels).properties(height=max(160, 36 * cohorts["cohort"].nunique())))

with st.expander("Cohort table"):
    ui.table(cohorts.drop(columns="cohort"), download_name="cohorts",
             cohort_week=st.column_config.DateColumn("Cohort", format="D MMM YYYY"))
