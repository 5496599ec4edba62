-- file days (ga4): for the load batches $batches, around $day, each export file's raw events per
-- reporting day ($tz; a UTC export day spans two of them). Stage keeps each of them or drops it as
-- a duplicate, so raw events - events kept = duplicates removed.

select
    _source_file as source_file,
    (make_timestamptz(event_timestamp) at time zone $tz)::date as day,
    count(*) as raw_events
from raw.ga4_events
where _batch_id in (select unnest($batches::varchar[]))
  -- a reporting day lies within [day - 1, day + 2) in UTC: DuckLake skips the other files
  and event_timestamp >= epoch_us(($day::date - 1)::timestamp)
  and event_timestamp < epoch_us(($day::date + 2)::timestamp)
group by all
