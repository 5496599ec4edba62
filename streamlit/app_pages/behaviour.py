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
# the whole width: a third of a 1280 px page leaves the bars no room beside paths and a legend
ui.bars(top.head(10), "pageviews", "page_path", color="page_type", height=300)
ui.table(top, download_name="top-pages")

left, right = st.columns(2)
with left:
    st.subheader("Entry pages")
    ui.table(ui.query(db.pages, f, "entrances", 10)[["page_path", "entrances", "pageviews"]])
with right:
    st.subheader("Exit pages")
    ui.table(ui.query(db.pages, f, "exits", 10)[["page_path", "exits", "exit_rate"]])

st.subheader("Where converting visits differ")
# a whole path never matches across the two kinds of visit (a converting one ends in checkout >
# confirmation), so they are compared by the pages they reach and by how they start
st.caption("Share of the visits that paid an order, and of the other visits, whose path "
           "(its first six steps) passes through each type of page.")
types = ui.query(db.path_page_types, f)
kinds = {"share_of_converting": "Converting visits", "share_of_other": "Other visits"}
reach = types.melt(id_vars="page_type", value_vars=list(kinds), var_name="visits",
                   value_name="share")
reach["visits"] = reach["visits"].map(kinds)
left, right = st.columns([2, 3])
with left:
    ui.show(alt.Chart(reach).mark_bar().encode(
        x=alt.X("share:Q", title="Of the visits", axis=alt.Axis(format=".0%"),
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("page_type:N", sort=list(types["page_type"]), title=None),
        yOffset=alt.YOffset("visits:N", sort=list(kinds.values())),
        color=ui.category_color("visits", reach["visits"], known=list(kinds.values()),
                                legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("page_type:N", title="Page type"),
                 alt.Tooltip("visits:N", title="Visits"),
                 alt.Tooltip("share:Q", format=formatting.PERCENT_AXIS, title="Share")],
    ).properties(height=300))
with right:
    ui.table(types, page_type="Page type", sessions="Visits",
             converted_sessions="Converted",
             conversion_rate=ui.column("conversion_rate", "Conversion"),
             share_of_converting=ui.column("share", "Of converting"),
             share_of_other=ui.column("share", "Of others"))

st.subheader("How visits that start the same way convert")
steps = st.segmented_control("First steps of the path", [1, 2, 3, 4], default=3,
                             key="path_steps", required=True)
st.caption(f"Visits grouped by the first {steps} page types of their path (a shorter visit "
           "by its whole path), with the share of them that paid an order.")
ui.table(ui.query(db.path_prefixes, f, steps, 15), path_start="Path starts with",
         sessions="Visits", converted_sessions="Converted")

st.subheader("Paths of visits that paid an order")
ui.table(ui.query(db.paths, f, 15, True)[["path", "sessions", "revenue", "share"]],
         sessions="Visits")

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
