"""Funnel: how many sessions reach each step, overall and by source or device."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

st.title("Funnel")
f = ui.filters("funnel")
steps = ui.query(db.funnel, f)
if steps.empty:
    st.info("No sessions for these filters in this period.")
    st.stop()

first, last = steps.iloc[0], steps.iloc[-1]
a, b, c = st.columns(3)
a.metric(f"Sessions reaching {first['step']}", ui.fmt_int(first["sessions"]), border=True)
b.metric(f"Sessions reaching {last['step']}", ui.fmt_int(last["sessions"]), border=True)
c.metric("Overall conversion", ui.fmt_pct(last["overall_conversion"]), border=True)

left, right = st.columns([3, 2])
with left:
    st.subheader("Sessions per step")
    chart = alt.Chart(steps).encode(
        x=alt.X("sessions:Q", title="sessions"),
        y=alt.Y("step:N", sort=alt.EncodingSortField("step_order"), title=None),
    )
    st.altair_chart(
        (chart.mark_bar() + chart.mark_text(align="left", dx=4).encode(
            text=alt.Text("overall_conversion:Q", format=".1%")
        )).properties(height=260)
    )
with right:
    st.subheader("Step conversion")
    ui.table(steps.drop(columns="step_order"), sessions=ui.INT, step_conversion=ui.PCT,
             overall_conversion=ui.PCT)

st.subheader("By segment")
by = st.segmented_control("Break down by", db.FUNNEL_BREAKDOWNS, default="source",
                          key="funnel_by", required=True)
segments = ui.query(db.funnel_by, f, by)
st.altair_chart(
    alt.Chart(segments).mark_bar().encode(
        x=alt.X("step:N", sort=list(steps["step"]), title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("segment:N", sort=list(segments["segment"].unique())),
        y=alt.Y("sessions:Q", title="sessions"),
        color=alt.Color("segment:N", title=by),
        tooltip=["segment", "step", "sessions",
                 alt.Tooltip("step_conversion", format=".1%", title="from the previous step")],
    ).properties(height=300)
)
wide = segments.pivot(index="segment", columns="step", values="sessions")[list(steps["step"])]
first_step, last_step = steps["step"].iloc[0], steps["step"].iloc[-1]
wide["conversion"] = wide[last_step] / wide[first_step]
ui.table(wide.reset_index(), segment=by, conversion=st.column_config.NumberColumn(
    f"{last_step} / {first_step}", format="percent"))
st.caption("A visit counts at every step up to the furthest one it reached (an ad that lands "
           "on a product page and ends in a purchase went through browsing too), so no step "
           "holds more visits than the one before it.")
