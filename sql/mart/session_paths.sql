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

-- each visit's page types in time order, a repeated type collapsed into one step: sorting each
-- visit's short list is far cheaper than ordering all views by a window or an ordered aggregate
ordered as (
    select
        session_id,
        list_transform(
            list_sort(list(struct_pack(event_ts, event_id, page_type))), v -> v.page_type
        ) as types
    from views
    group by session_id
),

paths as (
    select
        session_id,
        list_filter(types, (t, i) -> i = 1 or t is distinct from types[i - 1]) as types
    from ordered
),

final as (
    select
        v.session_date as date,
        array_to_string(p.types[1:6], ' > ') || case when len(p.types) > 6 then ' > ...' else '' end
            as path,
        least(len(p.types), 6) as steps,
        v.converted,
        count(*) as sessions,
        sum(v.orders) as orders,
        sum(v.revenue)::decimal(18, 2) as revenue
    from visits as v
    inner join paths as p using (session_id)
    group by all
)

select * from final
