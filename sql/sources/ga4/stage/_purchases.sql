-- ga4_purchases (temp, for one stage build): one row per GA4 order of the days, the purchase
-- event that made it, for stage/orders.sql and stage/order_items.sql.
-- depends_on: temp.ga4_events
-- column order_id: the transaction_id, or the purchase's event id when it has none
-- column event_id: the order's first purchase event (stage.events.event_id)
-- column order_ts: that purchase's time
-- column order_date: its reporting day (one of the days)
-- column session_id: its visit
-- column visitor_id: its visitor
-- column revenue: GA's ecommerce.purchase_revenue_in_usd of that purchase
-- column items: that purchase's items[] as JSON text
-- An order is one transaction_id: its first purchase event (later purchases repeating the id
-- are the same order, as GA counts it). A purchase whose id is null, empty or '(not set)'
-- cannot be matched with another and is its own order (order_id = its event id). A repeat of a
-- transaction is recognised up to a day after the first purchase (the window of
-- temp.ga4_events begins a day before the first day).

with

purchases as (
    select * from ga4_events where event_name = 'purchase'
),

-- one order per transaction id: its first purchase
orders as (
    select
        coalesce(transaction_id, event_id) as order_id,
        *
    from purchases
    qualify row_number() over (
        partition by coalesce(transaction_id, event_id)
        order by event_timestamp, _loaded_at, _source_file, _line_no
    ) = 1
),

-- the orders whose first purchase is on the days
final as (
    select
        order_id,
        event_id,
        make_timestamptz(event_timestamp) as order_ts,
        event_date as order_date,
        session_id,
        user_pseudo_id as visitor_id,
        revenue,
        items
    from orders
    where on_day
)

select * from final
