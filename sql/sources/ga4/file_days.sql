-- file days (ga4): each export file's raw events on the reporting day $day ($tz; a UTC export
-- day spans two of them). Stage keeps each of them or drops it as a duplicate, so raw events -
-- events kept = duplicates removed.

with

-- a reporting day lies within [day - 1, day + 2) in UTC: DuckLake skips the other files
rows as (
    select _source_file, (make_timestamptz(event_timestamp) at time zone $tz)::date as day
    from raw.ga4_events
    where event_timestamp >= epoch_us(($day::date - 1)::timestamp)
      and event_timestamp < epoch_us(($day::date + 2)::timestamp)
)

select _source_file as source_file, count(*) as raw_events
from rows
where day = $day
group by all
