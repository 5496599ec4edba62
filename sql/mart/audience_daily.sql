-- mart.audience_daily: one row per day, country, region, device type, OS and browser.
-- partition: date
-- depends_on: stage.sessions, stage.orders
-- Who the visitors are. Visits count on the day they start; orders and revenue on the day they
-- are paid, under the visit's audience. A missing device or geo row shows as '(unknown)'.
-- column date: the day
-- column geo_country: country code
-- column geo_region: region name
-- column device_type: desktop, mobile, tablet
-- column os_name: operating system
-- column browser_name: browser
-- column sessions: visits that started that day
-- column visitors: distinct visitors of those visits
-- column bounces: those visits that had a single pageview
-- column orders: orders paid that day
-- column revenue: revenue of those orders

with

days as (
    select unnest($days::date[]) as day
),

visits as (
    select
        session_id,
        session_date,
        visitor_id,
        is_bounce,
        coalesce(geo_country, '(unknown)') as geo_country,
        coalesce(geo_region, '(unknown)') as geo_region,
        coalesce(device_type, '(unknown)') as device_type,
        coalesce(os_name, '(unknown)') as os_name,
        coalesce(browser_name, '(unknown)') as browser_name
    from stage.sessions
    where session_date between $first_day::date - 1 and $last_day::date
),

started as (
    select
        session_date as date, geo_country, geo_region, device_type, os_name, browser_name,
        count(*) as sessions,
        count(distinct visitor_id) as visitors,
        count(*) filter (where is_bounce) as bounces
    from visits
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days)
    group by all
),

paid as (
    select
        o.order_date as date, v.geo_country, v.geo_region, v.device_type, v.os_name,
        v.browser_name,
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
        date,
        geo_country,
        geo_region,
        device_type,
        os_name,
        browser_name,
        coalesce(s.sessions, 0) as sessions,
        coalesce(s.visitors, 0) as visitors,
        coalesce(s.bounces, 0) as bounces,
        coalesce(p.orders, 0) as orders,
        coalesce(p.revenue, 0)::decimal(18, 2) as revenue
    from started as s
    full join paid as p using (date, geo_country, geo_region, device_type, os_name, browser_name)
)

select * from final
