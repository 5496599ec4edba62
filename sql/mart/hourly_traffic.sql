-- mart.hourly_traffic: one row per hour, traffic source, device type and country.
-- partition: date
-- depends_on: stage.events, stage.sessions, stage.orders
-- The dashboard's cube: every figure can be filtered by source, device and country. A visit's
-- source, device and country are its own (from stage.sessions); visits and their pageviews
-- (the visit's own figure, as in mart.daily_kpis) count in the hour they start, add-to-carts in
-- the hour they happen, orders and revenue in the hour they are paid.
-- column hour: the hour, in the reporting time zone
-- column date: the hour's day in the reporting time zone (partition)
-- column utm_source: the visit's campaign source ('(none)' = untagged)
-- column device_type: desktop, mobile, tablet ('(unknown)' without a device row)
-- column geo_country: country code ('(unknown)' without a geo row)
-- column sessions: visits that started in the hour
-- column bounces: those visits that had a single pageview
-- column pageviews: pageviews of the visits that started in the hour
-- column add_to_carts: add-to-cart pageviews in the hour
-- column orders: orders paid in the hour
-- column revenue: revenue of those orders

with

days as (
    select unnest($days::date[]) as day
),

-- the visits that own the days' events and orders; a visit lasts less than a day
visits as (
    select
        session_id,
        session_start,
        session_date,
        is_bounce,
        pageviews,
        coalesce(utm_source, '(none)') as utm_source,
        coalesce(device_type, '(unknown)') as device_type,
        coalesce(geo_country, '(unknown)') as geo_country
    from stage.sessions
    where session_date between $first_day::date - 1 and $last_day::date
),

started as (
    select
        date_trunc('hour', session_start at time zone $tz) as hour,
        utm_source, device_type, geo_country,
        count(*) as sessions,
        count(*) filter (where is_bounce) as bounces,
        sum(pageviews) as pageviews
    from visits
    where session_date in (select day from days)
    group by all
),

events as (
    select
        e.event_hour as hour,
        v.utm_source, v.device_type, v.geo_country,
        count(*) filter (where e.ecommerce_action = 'add_to_cart') as add_to_carts
    from stage.events as e
    inner join visits as v using (session_id)
    where e.event_date between $first_day::date and $last_day::date
      and e.event_date in (select day from days)
    group by all
),

orders as (
    select
        date_trunc('hour', o.order_ts at time zone $tz) as hour,
        v.utm_source, v.device_type, v.geo_country,
        count(*) as orders,
        sum(o.revenue) as revenue
    from stage.orders as o
    inner join visits as v using (session_id)
    where o.order_date between $first_day::date and $last_day::date
      and o.order_date in (select day from days)
    group by all
),

final as (
    select
        hour,
        hour::date as date,
        utm_source,
        device_type,
        geo_country,
        coalesce(s.sessions, 0) as sessions,
        coalesce(s.bounces, 0) as bounces,
        coalesce(s.pageviews, 0)::bigint as pageviews,
        coalesce(e.add_to_carts, 0) as add_to_carts,
        coalesce(o.orders, 0) as orders,
        coalesce(o.revenue, 0)::decimal(18, 2) as revenue
    from started as s
    full join events as e using (hour, utm_source, device_type, geo_country)
    full join orders as o using (hour, utm_source, device_type, geo_country)
)

select * from final
