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

RATE = ui.column("cart_to_purchase", help="Units bought per add to cart.")
st.subheader("Top products by revenue")
ui.bars(top.head(10), "revenue", "product_name", color="category", height=300)
ui.table(top[["product_id", "product_name", "category", "price", "add_to_carts", "units",
              "revenue", "cart_to_purchase"]], download_name="top-products",
         cart_to_purchase=RATE)

st.subheader("Categories")
cats = ui.query(db.categories, f)
left, right = st.columns([2, 3])
with left:
    ui.bars(cats, "revenue", "category", height=220)
with right:
    ui.table(cats[["category", "products", "add_to_carts", "units", "revenue",
                   "cart_to_purchase"]], download_name="categories", cart_to_purchase=RATE)

st.subheader("Price band vs conversion")
bands = ui.query(db.price_bands, f)
left, right = st.columns([2, 3])
with left:
    ui.bars(bands, "cart_to_purchase", "price_band", sort=list(bands["price_band"]),
            title="Units bought per add to cart", height=220)
with right:
    ui.table(bands[["price_band", "min_price", "max_price", "add_to_carts", "revenue",
                    "cart_to_purchase"]], download_name="price-bands",
             cart_to_purchase=RATE)
