-- stage.sessions (ga360): one row per GA session (an export row whose totals.visits is 1), on
-- the day of its first hit.
-- depends_on: stage.events, temp.ga360_visits
-- The session's figures are Google's own, from totals, not re-derived from the hits (that gives
-- other numbers: hits may be missing from the export, and GA counts pageviews, bounces and
-- transactions by its own rules): pageviews, is_bounce (totals.bounces is 1 or null), duration
-- (timeOnSite), orders (transactions) and revenue (totalTransactionRevenue: with tax and
-- shipping, in millionths). The rest is the session's hits in stage.events: its span, hit
-- count, add-to-carts, landing and exit page, traffic source, device and geo (GA records those
-- once per visit). A row with totals.visits null holds non-interactive hits only: no session.

with

days as (
    select unnest($days::date[]) as day
),

-- a session whose first hit comes after midnight may start the day before its first hit; the
-- visits come keyed, deduplicated and parsed from the unit's _visits.sql
candidates as (
    select
        visit_key as session_id,
        visitor_id,
        to_timestamp(visitStartTime) as visit_start,
        (visit_start at time zone $tz)::date as start_date,
        totals as t
    from ga360_visits
    where is_session
      and (to_timestamp(visitStartTime) at time zone $tz)::date
          between $first_day::date - 1 and $last_day::date
),

-- a session's hits lie on its first day or the next (it lasts less than a day)
hits as (
    select
        session_id,
        min(event_ts) as session_start,
        max(event_ts) as session_end,
        arg_min(event_date, event_ts) as first_date,
        count(*) as events,
        count(*) filter (where ecommerce_action = 'add_to_cart') as add_to_carts,
        arg_min(page_path, event_ts) filter (where is_pageview) as landing_page,
        arg_max(page_path, event_ts) filter (where is_pageview) as exit_page,
        any_value(utm_source) as utm_source,
        any_value(utm_medium) as utm_medium,
        any_value(utm_campaign) as utm_campaign,
        any_value(referer_medium) as referer_medium,
        any_value(device_type) as device_type,
        any_value(os_name) as os_name,
        any_value(browser_name) as browser_name,
        any_value(geo_country) as geo_country,
        any_value(geo_region) as geo_region
    from stage.events
    where source_format = 'ga360'
      and event_date between $first_day::date - 1 and $last_day::date + 1
      and session_id in (select session_id from candidates)
    group by session_id
),

joined as (
    select
        c.session_id,
        c.visitor_id,
        coalesce(h.session_start, c.visit_start) as session_start,
        coalesce(h.session_end, c.visit_start) as session_end,
        coalesce(h.first_date, c.start_date) as session_date,
        c.t,
        coalesce(h.events, 0) as events,
        coalesce(h.add_to_carts, 0) as add_to_carts,
        h.* exclude (session_id, session_start, session_end, first_date, events, add_to_carts)
    from candidates as c
    left join hits as h using (session_id)
),

final as (
    select
        session_id,
        visitor_id,
        session_start,
        session_end,
        session_date,
        coalesce(t.timeOnSite, date_diff('second', session_start, session_end)) as duration_s,
        events,
        coalesce(t.pageviews, 0) as pageviews,
        add_to_carts,
        landing_page,
        exit_page,
        coalesce(t.bounces = 1, false) as is_bounce,
        not coalesce(t.bounces = 1, false) or coalesce(t.timeOnSite, 0) >= 10 as is_engaged,
        utm_source,
        utm_medium,
        utm_campaign,
        referer_medium,
        device_type,
        os_name,
        browser_name,
        geo_country,
        geo_region,
        coalesce(t.transactions, 0) as orders,
        -- totalTransactionRevenue; exports from before it existed have only transactionRevenue
        (coalesce(t.totalTransactionRevenue, t.transactionRevenue, 0)::decimal(18, 0)
            * 0.000001)::decimal(18, 2) as revenue,
        coalesce(t.transactions, 0) > 0 as converted,
        -- not in the conformed contract (yet): GA's new-visit flag
        coalesce(t.newVisits = 1, false) as is_new_visit
    from joined
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days)
)

select * from final
