-- mart.daily_kpis: one row per day in the reporting time zone.
-- partition: date
-- depends_on: stage.events, stage.sessions, stage.orders, stage.visitors
-- Sessions and their pageviews count on the day they start (pageviews are the visits' own
-- figures: Google's totals.pageviews for a GA360 export); pageviews in no visit on their own day;
-- orders and revenue on the day they are paid.
-- column date: the day
-- column events: events that day
-- column sessions: visits that started that day
-- column visitors: distinct visitors with an event that day
-- column new_visitors: visitors whose first visit started that day
-- column returning_visitors: visitors with an event that day who first came on an earlier day
-- column pageviews: pageviews of the visits that started that day (and pageviews in no visit)
-- column add_to_carts: add-to-cart pageviews that day
-- column orders: orders paid that day
-- column revenue: revenue of the orders paid that day
-- column conversion_rate: orders / sessions
-- column avg_order_value: revenue / orders
-- column bounce_rate: share of the day's visits with a single pageview

with

days as (
    select unnest($days::date[]) as day
),

events as (
    select
        e.event_date as day,
        count(*) as events,
        count(distinct e.visitor_id) as visitors,
        count(distinct e.visitor_id) filter (where v.first_seen_date = e.event_date)
            as new_visitors,
        count(*) filter (where e.is_pageview and e.session_id is null) as pageviews_no_visit,
        count(*) filter (where e.ecommerce_action = 'add_to_cart') as add_to_carts
    from stage.events as e
    -- only the visitors first seen on these days can be new on them: the join stays the size
    -- of the days, not of the whole history
    left join (
        select visitor_id, first_seen_date from stage.visitors
        where first_seen_date between $first_day::date and $last_day::date
    ) as v using (visitor_id)
    where e.event_date between $first_day::date and $last_day::date
      and e.event_date in (select day from days)
    group by all
),

sessions as (
    select
        session_date as day,
        count(*) as sessions,
        sum(pageviews) as pageviews,
        count(*) filter (where is_bounce) as bounces
    from stage.sessions
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days)
    group by all
),

orders as (
    select order_date as day, count(*) as orders, sum(revenue) as revenue
    from stage.orders
    where order_date between $first_day::date and $last_day::date
      and order_date in (select day from days)
    group by all
),

final as (
    select
        d.day as date,
        coalesce(e.events, 0) as events,
        coalesce(s.sessions, 0) as sessions,
        coalesce(e.visitors, 0) as visitors,
        coalesce(e.new_visitors, 0) as new_visitors,
        coalesce(e.visitors - e.new_visitors, 0) as returning_visitors,
        (coalesce(s.pageviews, 0) + coalesce(e.pageviews_no_visit, 0))::bigint as pageviews,
        coalesce(e.add_to_carts, 0) as add_to_carts,
        coalesce(o.orders, 0) as orders,
        coalesce(o.revenue, 0)::decimal(18, 2) as revenue,
        round(coalesce(o.orders, 0) / nullif(s.sessions, 0), 4) as conversion_rate,
        round(o.revenue / nullif(o.orders, 0), 2)::decimal(18, 2) as avg_order_value,
        round(s.bounces / nullif(s.sessions, 0), 4) as bounce_rate
    from days as d
    left join events as e using (day)
    left join sessions as s using (day)
    left join orders as o using (day)
    where e.events is not null or s.sessions is not null or o.orders is not null
)

select * from final
