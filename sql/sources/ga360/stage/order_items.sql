-- stage.order_items (ga360): one row per unit bought: a product line of an order's purchase hit
-- with quantity q gives q rows, each with the line's unit price (so count(*) is units and
-- sum(price) the lines' revenue, as for the tracker's items).
-- depends_on: temp.ga360_purchases
-- The orders and the purchase hit that is each come from the unit's _purchases.sql, as for
-- stage.orders; an order's items are that hit's products, not those only listed
-- (isImpression). GA does not say which add-to-cart hit put a product in the basket: added_at
-- is null and item_event_id is the purchase hit's event.

with

lines as (
    select * exclude (products), unnest(products) as line
    from ga360_purchases
),

-- a line without a quantity is one unit
units as (
    select *, unnest(generate_series(1, greatest(coalesce(line.productQuantity, 1), 1))) as unit
    from lines
    where not coalesce(line.isImpression, false)
),

final as (
    select
        order_id,
        item_event_id,
        order_ts,
        order_date,
        session_id,
        visitor_id,
        line.productSKU as product_id,
        line.v2ProductName as product_name,
        line.v2ProductCategory as category,
        null::timestamptz as added_at,
        (line.productPrice::decimal(18, 0) * 0.000001)::decimal(18, 2) as price,
        currency
    from units
)

select * from final
