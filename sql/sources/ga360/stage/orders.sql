-- stage.orders (ga360): one row per order: a transactionId of the export's completed-purchase
-- hits (eCommerceAction.action_type '6'), on the day of the first hit that reports it.
-- depends_on: temp.ga360_purchases
-- The orders and the hit that is each (the first that repeats its transactionId; a hit without
-- one is an order of its own) come from the unit's _purchases.sql, as for stage.order_items.
-- Revenue is the hit's transaction.transactionRevenue (total with tax and shipping; GA360 money
-- is in millionths); items count units of the hit's products that were bought, not those only
-- listed (isImpression).

with

-- bought lines only: impressions were listed, not bought; a line without a quantity is one unit
bought as (
    select
        *,
        list_filter(products, lambda p: not coalesce(p.isImpression, false)) as lines
    from ga360_purchases
),

final as (
    select
        order_id,
        order_ts,
        order_date,
        session_id,
        visitor_id,
        coalesce(list_sum([greatest(coalesce(l.productQuantity, 1), 1) for l in lines]), 0)::bigint
            as items,
        -- the transaction's revenue; without one, what its priced lines add up to
        (
            coalesce(
                revenue_micros,
                list_sum([l.productPrice * greatest(coalesce(l.productQuantity, 1), 1)
                    for l in lines]),
                0
            )::decimal(18, 0) * 0.000001
        )::decimal(18, 2) as revenue,
        coalesce(
            list_sum([greatest(coalesce(l.productQuantity, 1), 1) for l in lines
                if l.productPrice is null]),
            0
        )::bigint as unpriced_items
    from bought
)

select * from final
