-- file days (ga360): each export file's raw hits (a raw row is a visit, its hits are the
-- events) on the reporting day $day ($tz) of the hit. Stage keeps the hits of the first copy of
-- a visit and drops the later copies', so raw hits - events kept = duplicates removed.

with

-- a visit starts before its hits, and a reporting day lies within [day - 1, day + 2) in UTC:
-- DuckLake skips the other files
hits as (
    select _source_file, visitStartTime * 1000 + coalesce(hit.time, 0) as hit_ms
    from (
        select _source_file, visitStartTime,
               unnest(from_json(hits, '[{"time": "BIGINT"}]')) as hit
        from raw.ga_sessions
        where visitStartTime >= epoch(($day::date - 2)::timestamp)::bigint
          and visitStartTime < epoch(($day::date + 2)::timestamp)::bigint
    )
)

select _source_file as source_file, count(*) as raw_events
from hits
where (to_timestamp(hit_ms / 1000) at time zone $tz)::date = $day
group by all
