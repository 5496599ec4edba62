"""Overview: the headline KPIs against the previous period, and the daily and hourly trends."""

import altair as alt
import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

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
    st.subheader("Sessions and conversion per day")
    ui.bars_and_line(daily, "sessions", "conversion_rate", ".2%")
with right:
    st.subheader("Revenue and orders per day")
    ui.bars_and_line(daily, "revenue", "orders", ",.0f")

st.subheader("Hourly traffic")
long = hourly.melt("hour", ["sessions", "orders"], var_name="measure", value_name="count")
st.altair_chart(
    alt.Chart(long).mark_line(point=len(hourly) < 50).encode(
        x=alt.X("hour:T", title=None),
        y=alt.Y("count:Q", title=None),
        color=alt.Color("measure:N", title=None),
        tooltip=[alt.Tooltip("hour:T", format="%d %b %H:00"), "measure:N", "count:Q"],
    ).properties(height=260)
)

with st.expander("Daily KPIs of the whole shop (mart.daily_kpis, date range only)"):
    ui.table(
        ui.query(db.daily_kpis, f),
        date=st.column_config.DateColumn("date"),
        revenue=ui.MONEY, avg_order_value=ui.MONEY,
        conversion_rate=ui.PCT, bounce_rate=ui.PCT,
    )
