"""ClickLake dashboard: the analyst's window onto the marts (read-only).

Run it with `make dashboard` (after `make demo`), or `streamlit run streamlit/app.py`; it reads
the lake the CLICKLAKE_* settings point at. Pages only lay things out: the queries are in
`clicklake.dashboard` (SQL in sql/dashboard.sql), the shared plumbing (cached read-only lake,
sidebar filters, formats) in `clicklake.dashboard_ui`. The sidebar is rendered here, in the
entrypoint, so that the filters keep their values from page to page.
"""

import streamlit as st

from clicklake import dashboard_ui as ui

st.set_page_config(page_title="ClickLake", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:",
            default=True),
    st.Page("app_pages/funnel.py", title="Funnel", icon=":material/filter_alt:"),
    st.Page("app_pages/acquisition.py", title="Acquisition", icon=":material/campaign:"),
    st.Page("app_pages/products.py", title="Products", icon=":material/shopping_bag:"),
    st.Page("app_pages/audience.py", title="Audience", icon=":material/public:"),
    st.Page("app_pages/behaviour.py", title="Behaviour", icon=":material/route:"),
    st.Page("app_pages/cohorts.py", title="Cohorts", icon=":material/grid_on:"),
    st.Page("app_pages/data_health.py", title="Data health", icon=":material/health_and_safety:"),
    st.Page("app_pages/history.py", title="What changed", icon=":material/history:"),
]

page = st.navigation(PAGES)
ui.sidebar()
page.run()
