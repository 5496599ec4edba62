-- mart.pages_daily: one row per day and page path that was viewed.
-- partition: date
-- depends_on: stage.events, stage.sessions
-- Entrances count on the day a visit starts (its landing page), exits on the day it ends (its
-- last pageview's page).
-- column date: the day
-- column page_path: the page's URL path
-- column page_type: class of page from stage.page_rules
-- column pageviews: views of the page that day
-- column unique_visitors: distinct visitors who viewed it that day
-- column entrances: visits that landed on the page
-- column exits: visits that left from the page
-- column exit_rate: exits / pageviews

with

days as (
    select unnest($days::date[]) as day
),

views as (
    select
        event_date as date,
        page_path,
        any_value(page_type) as page_type,
        count(*) as pageviews,
        count(distinct visitor_id) as unique_visitors
    from stage.events
    where is_pageview and page_path is not null
      and event_date between $first_day::date and $last_day::date
      and event_date in (select day from days)
    group by all
),

visits as (
    select session_date, session_end, landing_page, exit_page
    from stage.sessions
    where session_date between $first_day::date - 1 and $last_day::date
),

entrances as (
    select session_date as date, landing_page as page_path, count(*) as entrances
    from visits
    where session_date between $first_day::date and $last_day::date
      and session_date in (select day from days) and landing_page is not null
    group by all
),

exits as (
    select date, exit_page as page_path, count(*) as exits
    from (
        select (session_end at time zone $tz)::date as date, exit_page
        from visits
        where exit_page is not null
    )
    where date in (select day from days)
    group by all
),

final as (
    select
        v.date,
        v.page_path,
        v.page_type,
        v.pageviews,
        v.unique_visitors,
        coalesce(n.entrances, 0) as entrances,
        coalesce(x.exits, 0) as exits,
        round(coalesce(x.exits, 0) / v.pageviews, 4) as exit_rate
    from views as v
    left join entrances as n using (date, page_path)
    left join exits as x using (date, page_path)
)

select * from final
