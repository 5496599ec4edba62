-- checks.hourly_volume: no complete hour of the days has far fewer events (< 30%) than the
-- median of the same hour of day over the seven days before (hours with a median of at least
-- 20 events; a shop with under a week of history is not judged).
-- severity: warn
-- layer: lake
with

days as (
    select unnest($days::date[]) as day
),

hourly as (
    select event_hour, count(*) as events
    from stage.events
    where event_date between (select min(day) - 7 from days) and (select max(day) from days)
    group by all
),

judged as (
    select
        h.event_hour,
        h.events,
        (
            select median(p.events)
            from hourly as p
            where p.event_hour < h.event_hour
              and p.event_hour >= h.event_hour - interval 7 day
              and hour(p.event_hour) = hour(h.event_hour)
        ) as trailing_median,
        (
            select count(*)
            from hourly as p
            where p.event_hour < h.event_hour
              and p.event_hour >= h.event_hour - interval 7 day
              and hour(p.event_hour) = hour(h.event_hour)
        ) as trailing_days
    from hourly as h
    where h.event_hour::date in (select day from days)
)

select event_hour, events, trailing_median
from judged
where trailing_days >= 7 and trailing_median >= 20 and events < 0.3 * trailing_median
