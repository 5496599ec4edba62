"""Behaviour: which pages are seen, where visits start and end, their paths and length."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting

st.title("Behaviour")
f = ui.filters("behaviour")
top = ui.query(db.pages, f, "pageviews", 15)
if top.empty:
    st.info("No pageviews in this period.")
    st.stop()

st.subheader("Top pages")
left, right = st.columns([2, 3])
with left:
    ui.bars(top.head(10), "pageviews", "page_path", color="page_type", height=300)
with right:
    ui.table(top)

left, right = st.columns(2)
with left:
    st.subheader("Entry pages")
    ui.table(ui.query(db.pages, f, "entrances", 10)[["page_path", "entrances", "pageviews"]])
with right:
    st.subheader("Exit pages")
    ui.table(ui.query(db.pages, f, "exits", 10)[["page_path", "exits", "exit_rate"]])

st.subheader("Common paths")
# a path is long: each table gets the page's width, so no path needs a sideways scroll
st.caption("All visits")
ui.table(ui.query(db.paths, f, 15)[["path", "sessions", "conversion_rate", "share"]])
st.caption("Visits that paid an order")
ui.table(ui.query(db.paths, f, 15, True)[["path", "sessions", "revenue", "share"]])

st.subheader("Session length")
st.caption("Also filtered by source, device and country (from stage.sessions).")
summary = ui.query(db.session_length_summary, f)
a, b, c = st.columns(3)
a.metric("Median", formatting.seconds(summary["median_s"]), border=True)
b.metric("Mean", formatting.seconds(summary["avg_s"]), border=True)
c.metric("90th percentile", formatting.seconds(summary["p90_s"]), border=True)
lengths = ui.query(db.session_lengths, f)
ui.show(
    alt.Chart(lengths).mark_bar(color=formatting.PALETTE[0]).encode(
        x=alt.X("bucket:N", sort=list(lengths["bucket"]), title="Visit length",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("sessions:Q", title="Visits", axis=alt.Axis(format=formatting.COUNT_AXIS)),
        tooltip=[alt.Tooltip("bucket:N", title="Visit length"),
                 alt.Tooltip("sessions:Q", format=formatting.COUNT_AXIS, title="Visits")],
    ).properties(height=260)
)
