-- mart.cohort_retention_weekly: one row per cohort week and week number since it.
-- depends_on: stage.visitors
-- A visitor's cohort is the week (Monday) of their first visit; they are active in week n when
-- they start a visit n weeks after that Monday. Rebuilt whole (a late visit that moves someone
-- to an earlier cohort empties their old one) from stage.visitors alone: each visitor's first
-- week and the weeks they came, which it keeps current, so the cost grows with the visitors,
-- not with every visit of the history.
-- column cohort_week: Monday of the cohort's first week
-- column week_number: weeks since the cohort week (0 = the first week)
-- column cohort_visitors: visitors whose first visit was in the cohort week
-- column active_visitors: of those, visitors with a visit in that week
-- column retention: active_visitors / cohort_visitors

with

cohorts as (
    select first_seen_week as cohort_week, count(*) as cohort_visitors
    from stage.visitors
    group by all
),

activity as (
    select
        first_seen_week as cohort_week,
        date_diff('week', first_seen_week, active_week) as week_number,
        count(*) as active_visitors
    from (
        select first_seen_week, unnest(active_weeks) as active_week
        from stage.visitors
    )
    group by all
),

final as (
    select
        a.cohort_week,
        a.week_number,
        c.cohort_visitors,
        a.active_visitors,
        round(a.active_visitors / c.cohort_visitors, 4) as retention
    from activity as a
    inner join cohorts as c using (cohort_week)
)

select * from final
