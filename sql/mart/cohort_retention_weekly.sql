-- mart.cohort_retention_weekly: one row per cohort week and week number since it.
-- unique_key: cohort_week
-- depends_on: stage.visitors, stage.sessions
-- A visitor's cohort is the week (Monday) of their first visit; they are active in week n when
-- they start a visit n weeks after that Monday. A run recomputes the cohorts of the visitors
-- who came on the days it rebuilt (a returning visitor changes an old cohort's row).
-- column cohort_week: Monday of the cohort's first week
-- column week_number: weeks since the cohort week (0 = the first week)
-- column cohort_visitors: visitors whose first visit was in the cohort week
-- column active_visitors: of those, visitors with a visit in that week
-- column retention: active_visitors / cohort_visitors

with

touched as (
    select distinct v.first_seen_week as cohort_week
    from stage.sessions as s
    inner join stage.visitors as v using (visitor_id)
    where s.session_date between $first_day::date and $last_day::date
      and s.session_date in (select unnest($days::date[]))
),

visitors as (
    select visitor_id, first_seen_week as cohort_week
    from stage.visitors
    where first_seen_week in (select cohort_week from touched)
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
