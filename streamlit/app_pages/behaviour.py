"""Behaviour: which pages are seen, where visits start and end, their paths and length."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

st.title("Behaviour")
f = ui.filters("behaviour")
top = ui.query(db.pages, f, "pageviews", 15)
if top.empty:
    st.info("No pageviews in this period.")
    st.stop()

PAGE = dict(page_path="page", page_type="type", pageviews=ui.INT, entrances=ui.INT,
            exits=ui.INT, exit_rate=ui.PCT)
st.subheader("Top pages")
left, right = st.columns([2, 3])
with left:
    ui.bars(top.head(10), "pageviews", "page_path", color="page_type", height=300)
with right:
    ui.table(top, **PAGE)

left, right = st.columns(2)
with left:
    st.subheader("Entry pages")
    ui.table(ui.query(db.pages, f, "entrances", 10)[["page_path", "entrances", "pageviews"]],
             **PAGE)
with right:
    st.subheader("Exit pages")
    ui.table(ui.query(db.pages, f, "exits", 10)[["page_path", "exits", "exit_rate"]], **PAGE)

st.subheader("Common paths")
SHARE = st.column_config.ProgressColumn("share", format="percent", min_value=0, max_value=1)
left, right = st.columns(2)
with left:
    st.caption("All visits")
    ui.table(ui.query(db.paths, f, 15)[["path", "sessions", "conversion_rate", "share"]],
             path="path (page types)", sessions=ui.INT, conversion_rate=ui.PCT, share=SHARE)
with right:
    st.caption("Visits that paid an order")
    ui.table(ui.query(db.paths, f, 15, True)[["path", "sessions", "revenue", "share"]],
             path="path (page types)", sessions=ui.INT, revenue=ui.MONEY, share=SHARE)

st.subheader("Session length")
st.caption("Also filtered by source, device and country (from stage.sessions).")
summary = ui.query(db.session_length_summary, f)
a, b, c = st.columns(3)
a.metric("Median", f"{ui.fmt_int(summary['median_s'])} s", border=True)
b.metric("Mean", f"{ui.fmt_int(summary['avg_s'])} s", border=True)
c.metric("90th percentile", f"{ui.fmt_int(summary['p90_s'])} s", border=True)
lengths = ui.query(db.session_lengths, f)
st.altair_chart(
    alt.Chart(lengths).mark_bar().encode(
        x=alt.X("bucket:N", sort=list(lengths["bucket"]), title="visit length",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("sessions:Q", title="sessions"),
        tooltip=["bucket", "sessions"],
    ).properties(height=260)
)
