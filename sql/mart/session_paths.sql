-- mart.session_paths: one row per day, page-type path and whether the visit converted.
-- partition: date
-- depends_on: stage.events, stage.sessions
-- A visit's path is the sequence of page types it viewed, repeats in a row collapsed
-- ('product > product' is 'product'), cut after six steps (then ending in ' > ...').
-- column date: the day the visits started
-- column path: the page-type path, e.g. 'home > category > product > cart'
-- column steps: page types in the path (up to 6)
-- column converted: the visits paid an order
-- column sessions: visits that took this path
-- column orders: orders paid in those visits
-- column revenue: revenue of those orders

with

days as (
    select unnest($days::date[]) as day
),

visits as (
    select session_id, session_date, converted, orders, revenue
    from stage.sessions
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days)
),

views as (
    select session_id, event_ts, event_id, coalesce(page_type, 'other') as page_type
    from stage.events
    where is_pageview
      and event_date between $first_day::date and $last_day::date + 1
      and session_id in (select session_id from visits)
),

-- Built with windows, not a per-visit list() aggregate: DuckDB spills a window's sorted
-- partitions, but not list() states (a 10M-event hour's 2M visits' lists outgrow the memory
-- limit). Each view numbered in time order; it starts a step unless it repeats the page type
-- of the view before it.
changes as (
    select
        session_id, page_type,
        row_number() over w as n,
        page_type is distinct from lag(page_type) over w as starts_step
    from views
    window w as (partition by session_id order by event_ts, event_id)
),

-- each visit's first step, with the page types of the six steps after it (null past the
-- visit's last step): the seventh only tells that the path goes on
firsts as (
    select *
    from (
        select
            session_id,
            row_number() over w as step,
            page_type as t1,
            lead(page_type, 1) over w as t2,
            lead(page_type, 2) over w as t3,
            lead(page_type, 3) over w as t4,
            lead(page_type, 4) over w as t5,
            lead(page_type, 5) over w as t6,
            lead(page_type, 6) over w as t7
        from changes
        where starts_step
        window w as (partition by session_id order by n)
    )
    where step = 1
),

final as (
    select
        v.session_date as date,
        concat_ws(' > ', f.t1, f.t2, f.t3, f.t4, f.t5, f.t6)
            || case when f.t7 is not null then ' > ...' else '' end as path,
        (1 + (f.t2 is not null)::int + (f.t3 is not null)::int + (f.t4 is not null)::int
            + (f.t5 is not null)::int + (f.t6 is not null)::int)::bigint as steps,
        v.converted,
        count(*) as sessions,
        sum(v.orders) as orders,
        sum(v.revenue)::decimal(18, 2) as revenue
    from visits as v
    inner join firsts as f using (session_id)
    group by all
)

select * from final
