-- stage.orders (tracker): one row per order (a pageview of the purchase page).
-- depends_on: stage.events, stage.order_items

with

purchases as (
    select event_id as order_id, event_ts as order_ts, event_date as order_date,
        session_id, visitor_id
    from stage.events
    where source_format = 'tracker' and ecommerce_action = 'purchase'
      and event_date between $first_day::date and $last_day::date
      and event_date in (select unnest($days::date[]))
),

items as (
    select
        order_id,
        count(*) as items,
        coalesce(sum(price), 0)::decimal(18, 2) as revenue,
        count(*) filter (where price is null) as unpriced_items
    from stage.order_items
    where source_format = 'tracker'
      and order_date between $first_day::date and $last_day::date
      and order_date in (select unnest($days::date[]))
    group by order_id
),

final as (
    select
        p.order_id,
        p.order_ts,
        p.order_date,
        p.session_id,
        p.visitor_id,
        coalesce(i.items, 0) as items,
        coalesce(i.revenue, 0)::decimal(18, 2) as revenue,
        coalesce(i.unpriced_items, 0) as unpriced_items
    from purchases as p
    left join items as i using (order_id)
)

select * from final
