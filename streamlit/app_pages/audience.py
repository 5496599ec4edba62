"""Audience: where visitors are and what they browse with."""

import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting

st.title("Audience")
f = ui.filters("audience")
countries = ui.query(db.audience_by, f, "country")
if countries.empty:
    st.info("No sessions for these filters in this period.")
    st.stop()

st.subheader("Countries")
measure = st.segmented_control("Map of", db.MAP_MEASURES, default="sessions",
                               format_func=formatting.label, key="map_measure", required=True)
ui.show(db.world_map(countries, measure))
_, unplaced = db.map_countries(countries)
if unplaced:
    st.caption(f"{formatting.count(unplaced)} sessions are not on the map: unknown country, "
               "or one too small to draw at this scale (they are in the table).")
countries["value"] = countries["value"].map(formatting.country)  # "Germany (DE)"
left, right = st.columns([2, 3])
with left:
    ui.bars(countries.head(15), "sessions", "value", height=320)
with right:
    ui.table(countries[["value", "sessions", "orders", "revenue", "conversion_rate"]],
             download_name="countries", value="Country")
with st.expander("Regions"):
    regions = ui.query(db.regions, f)
    regions["geo_country"] = regions["geo_country"].map(formatting.country)
    ui.table(regions, download_name="regions")

for col, (dimension, label) in zip(
    st.columns(3), (("device", "Devices"), ("os", "Operating systems"), ("browser", "Browsers")),
    strict=True,
):
    with col:
        st.subheader(label)
        rows = ui.query(db.audience_by, f, dimension)
        ui.bars(rows.head(10), "sessions", "value", height=220)
        # a third of a 1280 px page: widths that fit it (a long browser name gets an ellipsis)
        ui.table(rows[["value", "sessions", "conversion_rate"]], download_name=dimension,
                 value=st.column_config.Column(formatting.label(dimension), width=110),
                 sessions=ui.column("sessions", width=72),
                 conversion_rate=ui.column("conversion_rate", width=78))
