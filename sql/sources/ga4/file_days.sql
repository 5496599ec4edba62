-- file days (ga4): for the load batches $batches, each export file's raw events per reporting
-- day ($tz; a UTC export day spans two of them). Stage keeps each of them or drops it as a
-- duplicate, so raw events - events kept = duplicates removed.

select
    _source_file as source_file,
    (make_timestamptz(event_timestamp) at time zone $tz)::date as day,
    count(*) as raw_events
from raw.ga4_events
where _batch_id in (select unnest($batches::varchar[]))
group by all
