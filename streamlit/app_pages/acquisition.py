"""Acquisition: where visits and revenue come from, and who gets the credit for an order."""

import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

st.title("Acquisition")
f = ui.filters("acquisition")
channels = ui.query(db.acquisition, f)
if channels.empty:
    st.info("No sessions for these filters in this period.")
    st.stop()

by_source = (channels.groupby("utm_source", as_index=False)[["sessions", "orders", "revenue"]]
             .sum())
left, right = st.columns(2)
with left:
    st.subheader("Sessions by source")
    ui.bars(by_source, "sessions", "utm_source", height=240)
with right:
    st.subheader("Revenue by source")
    ui.bars(by_source, "revenue", "utm_source", height=240)

st.subheader("Source / medium / campaign")
ui.table(channels, download_name="channels")

st.subheader("Attribution")
model = st.segmented_control(
    "Attribution model", list(db.ATTRIBUTION_MODELS), default="first_touch",
    format_func=db.ATTRIBUTION_MODELS.get, key="attribution_model", required=True,
    help="First touch credits the visitor's first visit; last non-direct the last visit that "
         "came from a campaign or referrer (direct visits only when there is none).",
)
credited = ui.query(db.attribution, f, model)
left, right = st.columns([2, 3])
with left:
    ui.bars(credited.groupby("utm_source", as_index=False)["revenue"].sum(), "revenue",
            "utm_source", title=f"Revenue, {db.ATTRIBUTION_MODELS[model].lower()}",
            height=240)
with right:
    ui.table(credited, download_name=f"attribution-{model}")
with st.expander("Both models side by side"):
    ui.table(ui.query(db.attribution_by_model, f), download_name="attribution-by-model")
