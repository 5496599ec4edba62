-- stage.sessions (tracker): one row per visit, on the day it started.
-- depends_on: stage.events, stage.orders
-- Source, medium and campaign are the landing event's; a visit is assumed to last less than a
-- day, so its events lie on its start day or the day after.

with

days as (
    select unnest($days::date[]) as day
),

events as (
    select *
    from stage.events
    where source_format = 'tracker'
      and event_date between $first_day::date - 1 and $last_day::date + 1
),

-- one pass over the events of the days around: a session belongs to the day it started
-- (its first event's event_date, the reporting time zone's day, which costs no conversion
-- here): the having clause keeps the days' ones
summary as (
    select
        session_id,
        any_value(visitor_id) as visitor_id,
        min(event_ts) as session_start,
        max(event_ts) as session_end,
        arg_min(event_date, event_ts) as session_date,
        count(*) as events,
        count(*) filter (where is_pageview) as pageviews,
        count(*) filter (where ecommerce_action = 'add_to_cart') as add_to_carts,
        arg_min(page_path, event_ts) filter (where is_pageview) as landing_page,
        arg_max(page_path, event_ts) filter (where is_pageview) as exit_page,
        arg_min(utm_source, event_ts) as utm_source,
        arg_min(utm_medium, event_ts) as utm_medium,
        arg_min(utm_campaign, event_ts) as utm_campaign,
        arg_min(referer_medium, event_ts) as referer_medium,
        any_value(device_type) as device_type,
        any_value(os_name) as os_name,
        any_value(browser_name) as browser_name,
        any_value(geo_country) as geo_country,
        any_value(geo_region) as geo_region
    from events
    group by session_id
    having arg_min(event_date, event_ts) in (select day from days)
),

orders as (
    select session_id, count(*) as orders, sum(revenue) as revenue
    from stage.orders
    where source_format = 'tracker'
      and order_date between $first_day::date and $last_day::date + 1
    group by session_id
),

final as (
    select
        s.session_id,
        s.visitor_id,
        s.session_start,
        s.session_end,
        s.session_date,
        date_diff('second', s.session_start, s.session_end) as duration_s,
        s.events,
        s.pageviews,
        s.add_to_carts,
        s.landing_page,
        s.exit_page,
        s.pageviews = 1 as is_bounce,
        s.pageviews >= 2 or date_diff('second', s.session_start, s.session_end) >= 10
            as is_engaged,
        s.utm_source,
        s.utm_medium,
        s.utm_campaign,
        s.referer_medium,
        s.device_type,
        s.os_name,
        s.browser_name,
        s.geo_country,
        s.geo_region,
        coalesce(o.orders, 0) as orders,
        coalesce(o.revenue, 0)::decimal(18, 2) as revenue,
        coalesce(o.orders, 0) > 0 as converted
    from summary as s
    left join orders as o using (session_id)
)

select * from final
