-- file days (ga360): for the load batches $batches, each export file's raw hits (a raw row is a
-- visit, its hits are the events) per reporting day ($tz) of the hit. Stage keeps the hits of
-- the first copy of a visit and drops the later copies', so raw hits - events kept = duplicates
-- removed.

with

hits as (
    select _source_file, visitStartTime * 1000 + coalesce(hit.time, 0) as hit_ms
    from (
        select _source_file, visitStartTime,
               unnest(from_json(hits, '[{"time": "BIGINT"}]')) as hit
        from raw.ga_sessions
        where _batch_id in (select unnest($batches::varchar[]))
    )
)

select
    _source_file as source_file,
    (to_timestamp(hit_ms / 1000) at time zone $tz)::date as day,
    count(*) as raw_events
from hits
group by all
