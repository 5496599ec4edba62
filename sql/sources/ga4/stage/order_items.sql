-- stage.order_items (ga4): one row per unit of a product in a GA4 order: an item line of
-- quantity q is q rows, each at the line's unit price (price_in_usd), so that counting rows
-- counts units and summing prices sums the items' value.
-- depends_on: temp.ga4_purchases
-- An order and its purchase event are as in _purchases.sql; its items are the items[] of that
-- purchase event. GA4 does not link a purchase to the add_to_cart events before it: the item's
-- event is the purchase and added_at is unknown.

with

lines as (
    select
        * exclude (items),
        unnest(from_json(items, '[{"item_id": "VARCHAR", "item_name": "VARCHAR",
            "item_category": "VARCHAR", "price_in_usd": "VARCHAR", "quantity": "VARCHAR"}]'))
            as item
    from ga4_purchases
),

-- a line of quantity q is q units; a missing quantity is one
units as (
    select
        *,
        unnest(range(greatest(coalesce(try_cast(item.quantity as bigint), 1), 1))) as unit
    from lines
),

final as (
    select
        order_id,
        event_id as item_event_id,
        order_ts,
        order_date,
        session_id,
        visitor_id,
        item.item_id as product_id,
        item.item_name as product_name,
        item.item_category as category,
        null::timestamptz as added_at,
        try_cast(item.price_in_usd as decimal(18, 2)) as price,
        case when item.price_in_usd is not null then 'USD' end as currency
    from units
)

select * from final
