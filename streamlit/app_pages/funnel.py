"""Funnel: how many sessions reach each step, overall and by source or device."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting

st.title("Funnel")
f = ui.filters("funnel")
steps = ui.query(db.funnel, f)
if steps.empty:
    st.info("No sessions for these filters in this period.")
    st.stop()

# the mart names a step by the page reached (the product page is "add_to_cart"): show what
# the visitor did
steps["step"] = steps["step"].map(formatting.funnel_step)
order = list(steps["step"])
first, last = steps.iloc[0], steps.iloc[-1]
a, b, c = st.columns(3)
a.metric(f"Visits: {first['step'].lower()}", ui.fmt_int(first["sessions"]), border=True)
b.metric(f"Visits: {last['step'].lower()}", ui.fmt_int(last["sessions"]), border=True)
c.metric("Overall conversion", ui.fmt_pct(last["overall_conversion"]), border=True)

left, right = st.columns(2)
with left:
    st.subheader("Visits per step")
    chart = alt.Chart(steps).encode(
        x=alt.X("sessions:Q", title="Visits", axis=alt.Axis(format=formatting.COUNT_AXIS)),
        y=alt.Y("step:N", sort=order, title=None),
        tooltip=[alt.Tooltip("step:N", title="Step"),
                 alt.Tooltip("sessions:Q", format=formatting.COUNT_AXIS, title="Visits"),
                 alt.Tooltip("overall_conversion:Q", format=formatting.PERCENT_AXIS,
                             title="Of the first step")],
    )
    ui.show((chart.mark_bar(color=formatting.PALETTE[0]) + chart.mark_text(
        align="left", dx=4).encode(text=alt.Text("overall_conversion:Q",
                                                 format=formatting.PERCENT_AXIS))
    ).properties(height=240))
with right:
    st.subheader("Step conversion")
    ui.table(steps.drop(columns="step_order"), sessions="Visits",
             step_conversion="Of previous", overall_conversion="Of first")

st.subheader("By segment")
by = st.segmented_control("Break down by", db.FUNNEL_BREAKDOWNS, default="source",
                          key="funnel_by", required=True)
segments = ui.query(db.funnel_by, f, by)
segments["step"] = segments["step"].map(formatting.funnel_step)
st.caption("Share of each segment's visits that reached each step: one line per segment.")
ui.show(alt.Chart(segments).mark_line(point=alt.OverlayMarkDef(filled=True, size=60)).encode(
    x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=130)),
    y=alt.Y("overall_conversion:Q", title="Of the segment's visits",
            axis=alt.Axis(format=".0%")),
    color=ui.category_color("segment", segments["segment"], by, title=by.capitalize(),
                            legend=alt.Legend(orient="bottom")),
    tooltip=[alt.Tooltip("segment:N", title=by.capitalize()),
             alt.Tooltip("step:N", title="Step"),
             alt.Tooltip("sessions:Q", format=formatting.COUNT_AXIS, title="Visits"),
             alt.Tooltip("overall_conversion:Q", format=formatting.PERCENT_AXIS,
                         title="Of the segment's visits"),
             alt.Tooltip("step_conversion:Q", format=formatting.PERCENT_AXIS,
                         title="Of the previous step")],
).properties(height=280))
wide = segments.pivot(index="segment", columns="step", values="overall_conversion")[order]
wide.insert(0, "visits", segments.pivot(index="segment", columns="step",
                                        values="sessions")[order[0]])
wide = wide.drop(columns=order[0]).reset_index().sort_values("visits", ascending=False)
pct = st.column_config.NumberColumn(format=ui.PCT["type_config"]["format"])
ui.table(wide, segment=by.capitalize(), visits=ui.INT,
         **{step: {**pct, "label": step} for step in order[1:]})
st.caption("A visit counts at every step up to the furthest one it reached (an ad that lands "
           "on a product page and ends in a purchase went through browsing too), so no step "
           "holds more visits than the one before it.")
