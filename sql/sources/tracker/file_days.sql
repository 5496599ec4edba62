-- file days (tracker): each source file's raw browser rows (the tracker's events) on the
-- reporting day $day ($tz). Stage keeps each of them or drops it as a duplicate of a copy that
-- arrived first, so raw events - events kept = duplicates removed.

with

-- a reporting day lies within [day - 1, day + 2) in UTC: DuckLake skips the other files
rows as (
    select _source_file, (event_timestamp at time zone $tz)::date as day
    from raw.browser_events
    where event_timestamp >= ($day::date - 1)::timestamptz
      and event_timestamp < ($day::date + 2)::timestamptz
)

select _source_file as source_file, count(*) as raw_events
from rows
where day = $day
group by all
