-- mart.acquisition_daily: one row per day, utm source, medium and campaign.
-- partition: date
-- depends_on: stage.sessions, stage.orders
-- Visits count on the day they start, orders and revenue on the day they are paid, each under
-- the campaign of the visit it happened in (its landing URL's utm tags).
-- column date: the day
-- column utm_source: campaign source ('(none)' = untagged: direct, organic, referral)
-- column utm_medium: campaign medium ('(none)' = untagged)
-- column utm_campaign: campaign name ('(none)' = untagged)
-- column sessions: visits that started that day
-- column bounces: those visits that had a single pageview
-- column bounce_rate: bounces / sessions
-- column orders: orders paid that day in visits from the campaign
-- column revenue: revenue of those orders
-- column conversion_rate: orders / sessions

with

days as (
    select unnest($days::date[]) as day
),

visits as (
    select
        session_id,
        session_date,
        is_bounce,
        coalesce(utm_source, '(none)') as utm_source,
        coalesce(utm_medium, '(none)') as utm_medium,
        coalesce(utm_campaign, '(none)') as utm_campaign
    from stage.sessions
    where session_date between $first_day::date - 1 and $last_day::date
),

started as (
    select
        session_date as date, utm_source, utm_medium, utm_campaign,
        count(*) as sessions,
        count(*) filter (where is_bounce) as bounces
    from visits
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days)
    group by all
),

paid as (
    select
        o.order_date as date, v.utm_source, v.utm_medium, v.utm_campaign,
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
        utm_source,
        utm_medium,
        utm_campaign,
        coalesce(s.sessions, 0) as sessions,
        coalesce(s.bounces, 0) as bounces,
        round(s.bounces / nullif(s.sessions, 0), 4) as bounce_rate,
        coalesce(p.orders, 0) as orders,
        coalesce(p.revenue, 0)::decimal(18, 2) as revenue,
        round(coalesce(p.orders, 0) / nullif(s.sessions, 0), 4) as conversion_rate
    from started as s
    full join paid as p using (date, utm_source, utm_medium, utm_campaign)
)

select * from final
