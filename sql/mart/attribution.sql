-- mart.attribution: one row per order day, attribution model and campaign.
-- partition: date
-- depends_on: stage.sessions, stage.orders
-- Each order (and its revenue) is credited once per model to one of the buyer's visits in the
-- 30 days up to the order: `first_touch` credits the first of them, `last_non_direct` the most
-- recent one that came from a campaign, a search engine or a referring site (the ordering visit
-- itself when all were direct). Both models add up to the day's orders and revenue.
-- column date: the day the orders were paid
-- column model: first_touch or last_non_direct
-- column utm_source: campaign source of the credited visit ('(none)' = untagged)
-- column utm_medium: campaign medium of the credited visit ('(none)' = untagged)
-- column utm_campaign: campaign of the credited visit ('(none)' = untagged)
-- column orders: orders credited
-- column revenue: revenue credited

with

days as (
    select unnest($days::date[]) as day
),

orders as (
    select o.order_id, o.order_ts, o.order_date, o.revenue, o.session_id, o.visitor_id
    from stage.orders as o
    where o.order_date between $first_day::date and $last_day::date
      and o.order_date in (select day from days)
),

-- the buyers' visits in the lookback window (a visit starts at most a day before its order)
touches as (
    select
        session_id,
        visitor_id,
        session_start,
        utm_source is not null or referer_medium is not null as non_direct,
        coalesce(utm_source, '(none)') as utm_source,
        coalesce(utm_medium, '(none)') as utm_medium,
        coalesce(utm_campaign, '(none)') as utm_campaign
    from stage.sessions
    where session_date between $first_day::date - 31 and $last_day::date
      and visitor_id in (select visitor_id from orders)
),

candidates as (
    select o.order_id, o.order_date, o.revenue, o.session_id as order_session, t.*
    from orders as o
    inner join touches as t
        on t.visitor_id = o.visitor_id
        and t.session_start <= o.order_ts
        and t.session_start >= o.order_ts - interval 30 day
),

-- an order whose visitor is unknown still has its own visit
own_visit as (
    select
        o.order_id,
        o.order_date,
        o.revenue,
        coalesce(s.utm_source, '(none)') as utm_source,
        coalesce(s.utm_medium, '(none)') as utm_medium,
        coalesce(s.utm_campaign, '(none)') as utm_campaign
    from orders as o
    inner join stage.sessions as s on s.session_id = o.session_id
    where s.session_date between $first_day::date - 1 and $last_day::date
),

first_touch as (
    select 'first_touch' as model, order_id, order_date, revenue,
        utm_source, utm_medium, utm_campaign
    from candidates
    qualify row_number() over (partition by order_id order by session_start, session_id) = 1
),

last_non_direct as (
    select 'last_non_direct' as model, order_id, order_date, revenue,
        utm_source, utm_medium, utm_campaign
    from candidates
    where non_direct
    qualify row_number() over (
        partition by order_id order by session_start desc, session_id desc
    ) = 1
),

credited as (
    select * from first_touch
    union all
    select 'first_touch', order_id, order_date, revenue, utm_source, utm_medium, utm_campaign
    from own_visit where order_id not in (select order_id from first_touch)
    union all
    select * from last_non_direct
    union all
    select 'last_non_direct', order_id, order_date, revenue, utm_source, utm_medium, utm_campaign
    from own_visit where order_id not in (select order_id from last_non_direct)
),

final as (
    select
        order_date as date,
        model,
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as orders,
        sum(revenue)::decimal(18, 2) as revenue
    from credited
    group by all
)

select * from final
