"""Products: what sells, by product and category, and how price bands convert."""

import streamlit as st

from clicklake import dashboard as db
from clicklake import dashboard_ui as ui

st.title("Products")
f = ui.filters("products")
top = ui.query(db.top_products, f, 20)
if top.empty:
    st.info("No product activity in this period.")
    st.stop()

RATE = st.column_config.NumberColumn(
    "cart → purchase", format="percent", help="Units bought per add to cart."
)
st.subheader("Top products by revenue")
left, right = st.columns([2, 3])
with left:
    ui.bars(top.head(10), "revenue", "product_name", fmt=",.2f", color="category", height=320)
with right:
    ui.table(top, product_id="id", product_name="product", price=ui.MONEY,
             add_to_carts=ui.INT, orders=ui.INT, units=ui.INT, revenue=ui.MONEY,
             cart_to_purchase=RATE)

left, right = st.columns(2)
with left:
    st.subheader("Categories")
    cats = ui.query(db.categories, f)
    ui.bars(cats, "revenue", "category", fmt=",.2f", height=220)
    ui.table(cats, add_to_carts=ui.INT, orders=ui.INT, units=ui.INT, revenue=ui.MONEY,
             cart_to_purchase=RATE)
with right:
    st.subheader("Price band vs conversion")
    bands = ui.query(db.price_bands, f)
    ui.bars(bands, "cart_to_purchase", "price_band", sort=list(bands["price_band"]),
            fmt=".1%", title="units bought per add to cart", height=220)
    ui.table(bands, price_band="price band", min_price=ui.MONEY, max_price=ui.MONEY,
             add_to_carts=ui.INT, units=ui.INT, revenue=ui.MONEY, cart_to_purchase=RATE)
