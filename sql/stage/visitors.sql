-- stage.visitors: one row per visitor over the whole history, from stage.sessions.
-- unique_key: visitor_id
-- depends_on: stage.sessions
-- The visitor map: when someone first and last came, how often, what they bought, and the
-- traffic source of their first visit (first touch). A run recomputes only the visitors with a
-- visit on the days it rebuilt, from all of their visits.
-- column visitor_id: the visitor
-- column first_seen: start of the visitor's first visit
-- column last_seen: end of the visitor's last visit
-- column first_seen_date: day of the first visit in the reporting time zone
-- column first_seen_week: Monday of the first visit's week (the visitor's cohort)
-- column active_weeks: Mondays of the weeks with a visit, in order (cohort retention)
-- column sessions: visits
-- column orders: orders paid
-- column revenue: revenue of those orders
-- column first_utm_source: campaign source of the first visit ('(none)' = untagged)
-- column first_utm_medium: campaign medium of the first visit
-- column first_utm_campaign: campaign of the first visit
-- column first_referer_medium: referring medium of the first visit
-- column geo_country: country of the most recent visit
-- column device_type: device of the most recent visit

with

touched as (
    select distinct visitor_id
    from stage.sessions
    where session_date between $first_day::date and $last_day::date
      and session_date in (select unnest($days::date[])) and visitor_id is not null
),

-- each visit's order among its visitor's visits (by start, then id): the first and last visit
-- are then found by a number, cheaper than comparing (start, id) pairs in every aggregate
sessions as (
    select
        *,
        row_number() over (partition by visitor_id order by session_start, session_id) as n
    from stage.sessions
    where visitor_id in (select visitor_id from touched)
),

final as (
    select
        visitor_id,
        min(session_start) as first_seen,
        max(session_end) as last_seen,
        min(session_date) as first_seen_date,
        date_trunc('week', min(session_date))::date as first_seen_week,
        list(distinct date_trunc('week', session_date)::date order by
             date_trunc('week', session_date)::date) as active_weeks,
        count(*) as sessions,
        sum(orders) as orders,
        sum(revenue)::decimal(18, 2) as revenue,
        coalesce(arg_min(utm_source, n), '(none)') as first_utm_source,
        arg_min(utm_medium, n) as first_utm_medium,
        arg_min(utm_campaign, n) as first_utm_campaign,
        arg_min(referer_medium, n) as first_referer_medium,
        arg_max(geo_country, n) as geo_country,
        arg_max(device_type, n) as device_type
    from sessions
    group by visitor_id
)

select * from final
