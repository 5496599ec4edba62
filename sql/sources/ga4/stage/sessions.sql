-- stage.sessions (ga4): one row per GA4 visit (stream_id + user_pseudo_id + ga_session_id), on
-- the day of its first event in the reporting time zone.
-- depends_on: stage.events, stage.orders, temp.ga4_events
-- GA4 has no bounce flag: a visit is engaged when any of its events carries session_engaged = 1
-- (int 1 on some events, the string '1' on others), and a bounce is a visit that is not
-- engaged, as in GA4's own bounce rate. That flag is an event parameter stage.events does not
-- keep: temp.ga4_events has it. Events in no visit (consent-mode pings) make no visit. A visit
-- is assumed to last less than a day.

with

days as (
    select unnest($days::date[]) as day
),

events as (
    select *
    from stage.events
    where source_format = 'ga4'
      and event_date between $first_day::date - 1 and $last_day::date + 1
      and session_id is not null
),

-- one pass over the events of the days around: a visit belongs to the day it started (its
-- first event's event_date, already in the reporting time zone): the having clause keeps the
-- days' ones. Source, medium and campaign are the visit's on each of its events.
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
        arg_min(device_type, event_ts) as device_type,
        arg_min(os_name, event_ts) as os_name,
        arg_min(browser_name, event_ts) as browser_name,
        arg_min(geo_country, event_ts) as geo_country,
        arg_min(geo_region, event_ts) as geo_region
    from events
    group by session_id
    having arg_min(event_date, event_ts) in (select day from days)
),

-- a visit is engaged when any of its events says session_engaged = 1 ('1' as text): every
-- event of the window's visits is in temp.ga4_events. Events in no visit make a null group that
-- joins nothing.
engaged as (
    select session_id, bool_or(session_engaged) as is_engaged
    from ga4_events
    group by session_id
),

orders as (
    select session_id, count(*) as orders, sum(revenue) as revenue
    from stage.orders
    where source_format = 'ga4'
      and order_date between $first_day::date and $last_day::date + 1
      and session_id is not null
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
        not coalesce(e.is_engaged, false) as is_bounce,
        coalesce(e.is_engaged, false) as is_engaged,
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
    left join engaged as e using (session_id)
    left join orders as o using (session_id)
)

select * from final
