-- file days (tracker): for the load batches $batches, around $day, each source file's raw browser
-- rows (the tracker's events) per reporting day ($tz). Stage keeps each of them or drops it as a
-- duplicate of a copy that arrived first, so raw events - events kept = duplicates removed.

select
    _source_file as source_file,
    (event_timestamp at time zone $tz)::date as day,
    count(*) as raw_events
from raw.browser_events
where _batch_id in (select unnest($batches::varchar[]))
  -- a reporting day lies within [day - 1, day + 2) in UTC: DuckLake skips the other files
  and event_timestamp >= ($day::date - 1)::timestamptz
  and event_timestamp < ($day::date + 2)::timestamptz
group by all
