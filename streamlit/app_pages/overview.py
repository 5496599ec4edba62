"""Overview: the headline KPIs against the comparison period (previous period or last year),
and the daily trends (with the comparison drawn dashed) and hourly trends."""

import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui
from clicklake import formatting

st.title("Overview")
f = ui.filters("overview")
now = ui.query(db.kpis, f)
other, versus = ui.versus(f)
before = ui.query(db.kpis, other) if other else None
if not (before and before["sessions"]):  # no traffic then: nothing to compare, not "no change"
    before = dict.fromkeys(now)

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
                   delta_description=(f"vs {versus}" if delta else f"no data for {versus}")
                   if other else None, **ui.delta_style(delta))

daily = ui.query(db.daily_trend, f)
hourly = ui.query(db.hourly_trend, f)
if daily.empty:
    st.info("No traffic for these filters in this period.")
    st.stop()
compared = ui.query(db.daily_trend, other) if other else None
shift = (f.start - other.start).days if other else 0
if compared is not None and not compared.empty:
    st.caption(f"Grey dashed lines: the same measure {ui.period(other.start, other.end)} "
               f"({db.COMPARISONS[f.comparison].lower()}), drawn on the days it compares with.")
    if len(compared) < other.days:
        st.caption(f":orange[Only {len(compared)} of the {other.days} days compared with "
                   "have traffic in the lake: the changes on the cards compare unequal "
                   "spans.]")
elif other:
    st.caption(f"Nothing to compare with: no traffic {ui.period(other.start, other.end)}.")

# one measure per chart, each on its own axis: sessions (hundreds), conversion (a rate),
# revenue (money) and orders (tens) never share a scale
DAILY = [("Sessions per day", "sessions"), ("Conversion per day", "conversion_rate"),
         ("Revenue per day", "revenue"), ("Orders per day", "orders")]
for row in (DAILY[:2], DAILY[2:]):
    for col, (title, measure) in zip(st.columns(2), row, strict=True):
        with col:
            st.subheader(title)
            ui.per_day(daily, measure, compared, shift)

left, right = st.columns(2)
with left:
    ui.per_hour(hourly, "sessions", formatting.PALETTE[0])
with right:
    ui.per_hour(hourly, "orders", formatting.PALETTE[0])

with st.expander("Daily KPIs of the whole shop (mart.daily_kpis, date range only)"):
    ui.table(ui.query(db.daily_kpis, f), download_name="daily-kpis",
             date=st.column_config.DateColumn("Date", format="D MMM YYYY"))
