"""Audience: where visitors are and what they browse with."""

import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

st.title("Audience")
f = ui.filters("audience")
countries = ui.query(db.audience_by, f, "country")
if countries.empty:
    st.info("No sessions for these filters in this period.")
    st.stop()

COLUMNS = dict(sessions=ui.INT, bounce_rate=ui.PCT, orders=ui.INT, revenue=ui.MONEY,
               conversion_rate=ui.PCT)
st.subheader("Countries")
left, right = st.columns(2)
with left:
    ui.bars(countries.head(15), "sessions", "value", title="sessions", height=320)
with right:
    ui.table(countries, value="country", **COLUMNS)
with st.expander("Regions"):
    ui.table(ui.query(db.regions, f), geo_country="country", geo_region="region",
             sessions=ui.INT, orders=ui.INT, revenue=ui.MONEY, conversion_rate=ui.PCT)

for col, (dimension, label) in zip(
    st.columns(3), (("device", "Devices"), ("os", "Operating systems"), ("browser", "Browsers")),
    strict=True,
):
    with col:
        st.subheader(label)
        rows = ui.query(db.audience_by, f, dimension)
        ui.bars(rows.head(10), "sessions", "value", title="sessions", height=220)
        ui.table(rows[["value", "sessions", "conversion_rate"]], value=dimension,
                 sessions=ui.INT, conversion_rate=ui.PCT)
