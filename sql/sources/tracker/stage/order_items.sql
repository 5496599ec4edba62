-- stage.order_items (tracker): one row per product in an order (the same product twice = two rows).
-- depends_on: stage.events, stage.products
-- An order is a pageview of the purchase page; its items are the add-to-cart pageviews of the
-- same visit since the visit's previous purchase, priced at the price valid when the order was
-- paid. A visit is assumed to last less than a day.

with

days as (
    select unnest($days::date[]) as day
),

-- a visit lasts less than a day, so its cart events lie on the order day or the day before
cart_events as (
    select session_id, visitor_id, event_id, event_ts, event_date, ecommerce_action, product_id
    from stage.events
    where source_format = 'tracker'
      and ecommerce_action in ('add_to_cart', 'purchase')
      and event_date between $first_day::date - 1 and $last_day::date
),

-- only a visit with a purchase has baskets: the others' cart events need no ordering
paying as (
    select distinct session_id from cart_events where ecommerce_action = 'purchase'
),

-- basket n = the events after the visit's n-th purchase and up to its (n+1)-th
sequenced as (
    select
        *,
        count(*) filter (where ecommerce_action = 'purchase') over (
            partition by session_id order by event_ts, event_id
            rows between unbounded preceding and 1 preceding
        ) as basket
    from cart_events
    semi join paying using (session_id)
),

orders as (
    select session_id, visitor_id, basket, event_id as order_id, event_ts as order_ts,
        event_date as order_date
    from sequenced
    where ecommerce_action = 'purchase'
      and event_date between $first_day::date and $last_day::date
      and event_date in (select day from days)
),

items as (
    select
        o.order_id,
        a.event_id as item_event_id,
        o.order_ts,
        o.order_date,
        o.session_id,
        o.visitor_id,
        a.product_id,
        a.event_ts as added_at
    from orders as o
    inner join sequenced as a
        on a.session_id = o.session_id
        and a.basket = o.basket
        and a.ecommerce_action = 'add_to_cart'
),

final as (
    select
        i.order_id,
        i.item_event_id,
        i.order_ts,
        i.order_date,
        i.session_id,
        i.visitor_id,
        i.product_id,
        p.name as product_name,
        p.category,
        i.added_at,
        p.price,
        p.currency
    from items as i
    left join stage.products as p
        on p.product_id = i.product_id
        and p.valid_from <= i.order_ts
        and (p.valid_to is null or i.order_ts < p.valid_to)
)

select * from final
