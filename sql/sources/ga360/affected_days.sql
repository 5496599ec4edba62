-- affected days (ga360): the reporting days ($tz) whose stage and mart rows the load batches in
-- $batches can change: every day on which a visit of the batches has a hit. A visit lasts less
-- than a day, so those are the days of its first and of its last hit (a visit that crosses
-- midnight changes both days).

with

batch_visits as (
    select
        visitStartTime,
        -- hits.time is milliseconds since the visit's start; the hits' list is parsed once
        list_max([h.time for h in from_json(hits, '[{"time": "BIGINT"}]')]) as last_ms
    from raw.ga_sessions
    where _batch_id in (select unnest($batches))
),

-- a hit's reporting day, from its minute: converting each distinct minute to $tz, not each
-- visit, costs a fraction (every time zone has kept whole-minute offsets for a century)
minutes as (
    select visitStartTime // 60 as minute from batch_visits
    union
    select (visitStartTime * 1000 + coalesce(last_ms, 0)) // 60000 as minute from batch_visits
),

final as (
    select distinct (to_timestamp(minute * 60) at time zone $tz)::date as day
    from minutes
)

select day from final order by day
