"""Overview: the headline KPIs against the previous period, and the daily and hourly trends."""

import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting

st.title("Overview")
f = ui.filters("overview")
now = ui.query(db.kpis, f)
before = ui.query(db.kpis, f.previous())
prev = f.previous()
versus = f"vs {prev.start:%d %b}" + ("" if prev.days == 1 else f" – {prev.end:%d %b}")

CARDS = [
    ("Visitors", "visitors", ui.fmt_int, False, "Distinct visitors who started a visit."),
    ("Sessions", "sessions", ui.fmt_int, False, "Visits, counted on the day they start."),
    ("Orders", "orders", ui.fmt_int, False, "Orders, counted on the day they are paid."),
    ("Revenue", "revenue", ui.fmt_money, False, "Revenue of the orders paid in the period."),
    ("Conversion", "conversion_rate", ui.fmt_pct, True, "Orders per session."),
    ("Avg order value", "avg_order_value", ui.fmt_money, False, "Revenue per order."),
]
for row in (CARDS[:3], CARDS[3:]):
    for col, (label, key, fmt, rate, help_text) in zip(st.columns(3), row, strict=True):
        delta = ui.change(now[key], before[key], rate=rate)
        col.metric(label, fmt(now[key]), delta, help=help_text, border=True,
                   delta_description=versus if delta else f"no data to compare ({versus})")

daily = ui.query(db.daily_trend, f)
hourly = ui.query(db.hourly_trend, f)
if daily.empty:
    st.info("No traffic for these filters in this period.")
    st.stop()


left, right = st.columns(2)
with left:
    st.subheader("Sessions and conversion")
    ui.bars_and_line(daily, "sessions", "conversion_rate")
with right:
    st.subheader("Revenue and orders")
    ui.bars_and_line(daily, "revenue", "orders")

# sessions (hundreds) and orders (tens) never share an axis: one chart each
left, right = st.columns(2)
with left:
    st.subheader("Sessions per hour")
    ui.per_hour(hourly, "sessions", f.days == 1, formatting.PALETTE[0])
with right:
    st.subheader("Orders per hour")
    ui.per_hour(hourly, "orders", f.days == 1, formatting.ACCENT)

with st.expander("Daily KPIs of the whole shop (mart.daily_kpis, date range only)"):
    ui.table(ui.query(db.daily_kpis, f),
             date=st.column_config.DateColumn("Date", format="D MMM YYYY"))
