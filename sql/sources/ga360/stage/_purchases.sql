-- temp.ga360_purchases (the unit's private model): one row per order of $days, the purchase hit
-- (eCommerceAction.action_type '6') that is the order, for orders.sql and order_items.sql.
-- depends_on: temp.ga360_visits
-- An order is counted once even when several hits repeat its transactionId (a reloaded receipt
-- page): the first one by time and hitNumber is the order, on that hit's day. A purchase hit
-- whose transactionId is null, '' or '(not set)' cannot be matched with another: each such hit
-- is an order of its own (order_id = session key || '-' || hitNumber).

with

days as (
    select unnest($days::date[]) as day
),

-- the visits come keyed, deduplicated and parsed from _visits.sql; purchase hits are few
hits as (
    select
        visit_key,
        visitor_id,
        is_session,
        visitStartTime,
        unnest(list_filter(hits, lambda h: h.eCommerceAction.action_type = '6')) as hit
    from ga360_visits
),

purchases as (
    select
        case
            when trim(coalesce(hit.transaction.transactionId, '')) in ('', '(not set)')
                then visit_key || '-' || hit.hitNumber::varchar
            else hit.transaction.transactionId
        end as order_id,
        visit_key || '-' || hit.hitNumber::varchar as item_event_id,
        to_timestamp(visitStartTime) + to_milliseconds(coalesce(hit.time, 0)) as order_ts,
        visit_key,
        hit.hitNumber as hit_number,
        case when is_session then visit_key end as session_id,
        visitor_id,
        hit.transaction.transactionRevenue as revenue_micros,
        hit.transaction.currencyCode as currency,
        -- every product line of the hit, those only listed (isImpression) included
        hit.product as products
    from hits
),

-- ordering each order's hits costs little
first_hits as (
    select *, (order_ts at time zone $tz)::date as order_date
    from purchases
    qualify row_number() over (partition by order_id order by order_ts, visit_key, hit_number) = 1
),

final as (
    select *
    from first_hits
    where order_date between $first_day::date and $last_day::date
      and order_date in (select day from days)
)

select * from final
