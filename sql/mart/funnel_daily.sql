-- mart.funnel_daily: one row per day, traffic source, device type and funnel step.
-- partition: date
-- depends_on: stage.events, stage.sessions, stage.page_rules
-- The steps and their order come from the rules table (sql/seeds/page_rules.csv), not from
-- this SQL. A visit counts at every step up to the furthest one it reached (a visit that
-- lands on a product page and buys went through browsing too), so each step holds at most
-- the visits of the step before it; it counts on the day it started.
-- column date: the day the visits started
-- column utm_source: the visits' campaign source ('(none)' = untagged)
-- column device_type: desktop, mobile, tablet ('(unknown)' without a device row)
-- column step: the funnel step (browse, add_to_cart, cart, checkout, purchase)
-- column step_order: the step's position in the funnel (1 = first)
-- column sessions: visits whose furthest step is this one or a later one
-- column step_conversion: sessions / sessions at the previous step (1 for the first step)
-- column overall_conversion: sessions / sessions at the first step

with

days as (
    select unnest($days::date[]) as day
),

steps as (
    select distinct funnel_step as step, funnel_order as step_order
    from stage.page_rules
    where funnel_step is not null
),

visits as (
    select
        session_id,
        session_date,
        coalesce(utm_source, '(none)') as utm_source,
        coalesce(device_type, '(unknown)') as device_type
    from stage.sessions
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days)
),

furthest as (
    select e.session_id, max(s.step_order) as furthest_order
    from stage.events as e
    inner join steps as s on s.step = e.funnel_step
    where e.event_date between $first_day::date and $last_day::date + 1
      and e.session_id in (select session_id from visits)
    group by e.session_id
),

-- every step for every segment that had visits, so a step nobody reached shows as 0
segments as (
    select distinct session_date as date, utm_source, device_type from visits
),

counts as (
    select v.session_date as date, v.utm_source, v.device_type, s.step, count(*) as sessions
    from furthest as f
    inner join visits as v using (session_id)
    inner join steps as s on s.step_order <= f.furthest_order
    group by all
),

grid as (
    select
        g.date, g.utm_source, g.device_type, s.step, s.step_order,
        coalesce(c.sessions, 0) as sessions
    from segments as g
    cross join steps as s
    left join counts as c using (date, utm_source, device_type, step)
),

final as (
    select
        date,
        utm_source,
        device_type,
        step,
        step_order,
        sessions,
        case
            when lag(sessions) over w is null then 1.0
            else round(sessions / nullif(lag(sessions) over w, 0), 4)
        end as step_conversion,
        round(sessions / nullif(first_value(sessions) over w, 0), 4) as overall_conversion
    from grid
    window w as (partition by date, utm_source, device_type order by step_order)
)

select * from final
