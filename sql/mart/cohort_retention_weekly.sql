-- mart.cohort_retention_weekly: one row per cohort week and week number since it.
-- depends_on: stage.visitors, stage.sessions
-- A visitor's cohort is the week (Monday) of their first visit; they are active in week n when
-- they start a visit n weeks after that Monday. Rebuilt whole: a late visit that moves someone
-- to an earlier cohort empties their old one, which recomputing only the cohorts of the days'
-- visitors (as before) left counting them. It costs about as much: the days' visitors are
-- returning ones from nearly every cohort, so that recomputed nearly every cohort anyway.
-- column cohort_week: Monday of the cohort's first week
-- column week_number: weeks since the cohort week (0 = the first week)
-- column cohort_visitors: visitors whose first visit was in the cohort week
-- column active_visitors: of those, visitors with a visit in that week
-- column retention: active_visitors / cohort_visitors

with

visitors as (
    select visitor_id, first_seen_week as cohort_week
    from stage.visitors
),

cohorts as (
    select cohort_week, count(*) as cohort_visitors from visitors group by all
),

activity as (
    select distinct
        v.cohort_week,
        v.visitor_id,
        date_diff('week', v.cohort_week, date_trunc('week', s.session_date)::date) as week_number
    from stage.sessions as s
    inner join visitors as v using (visitor_id)
),

final as (
    select
        a.cohort_week,
        a.week_number,
        c.cohort_visitors,
        count(*) as active_visitors,
        round(count(*) / c.cohort_visitors, 4) as retention
    from activity as a
    inner join cohorts as c using (cohort_week)
    group by a.cohort_week, a.week_number, c.cohort_visitors
)

select * from final
