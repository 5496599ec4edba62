-- stage.orders (ga4): one row per GA4 order: a transaction_id counted once, or a purchase
-- without one.
-- depends_on: temp.ga4_purchases, stage.order_items
-- The orders and their purchase events are _purchases.sql's (a transaction_id's first
-- purchase; a purchase without a usable id is its own order, with its own revenue). Revenue is
-- GA's ecommerce.purchase_revenue_in_usd of that purchase; items and unpriced items are
-- counted from stage.order_items (units).

with

-- each order with its units (stage.order_items is built first, for the same days)
final as (
    select
        o.order_id,
        o.order_ts,
        o.order_date,
        o.session_id,
        o.visitor_id,
        count(i.order_id) as items,
        coalesce(o.revenue, 0)::decimal(18, 2) as revenue,
        count(i.order_id) filter (where i.price is null) as unpriced_items
    from ga4_purchases as o
    left join stage.order_items as i
        on i.source_format = 'ga4'
        and i.order_date = o.order_date
        and i.order_id = o.order_id
    group by all
)

select * from final
