-- reconcile (ga360): for each of $days, the raw hits whose event falls on it (every raw row's
-- hits, copies of a line loaded twice included) and how many of them stage drops as
-- duplicates (the hits of the later copies): raw rows = stage rows + duplicates. A GA360 raw
-- row is a visit; its hits are the events, so hits are what is counted.

with

-- the window and the copies as events.sql has them: a reporting day lies within
-- [day - 1, day + 2) in UTC whatever $tz is, and a visit starts before its hits
keys as not materialized (
    select fullVisitorId, visitId, visitStartTime, date, _source_file, _line_no, _loaded_at
    from raw.ga_sessions
    where visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
),

repeated_keys as (
    select fullVisitorId, visitId from keys group by all having count(*) > 1
),

-- the later copies of a line loaded twice: stage keeps the first-loaded one
dropped as (
    select _source_file, _line_no
    from keys
    semi join repeated_keys using (fullVisitorId, visitId)
    qualify row_number() over (
        partition by fullVisitorId, visitId, visitStartTime, date
        order by _loaded_at, _source_file, _line_no
    ) > 1
),

copies as (
    select r.visitStartTime, r.hits, d._line_no is null as kept
    from raw.ga_sessions as r
    left join dropped as d using (_source_file, _line_no)
    where r.visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and r.visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
),

raw_hits as not materialized (
    select
        kept,
        (visitStartTime * 1000 + coalesce(hit.time, 0)) // 60000 as minute
    from (
        select kept, visitStartTime, unnest(from_json(hits, '[{"time": "BIGINT"}]')) as hit
        from copies
    )
),

-- a hit's reporting day, from its minute: each minute of the window is converted to $tz, not
-- each hit, and the hits are parsed once (as in events.sql)
minute_days as (
    select minute, (to_timestamp(minute * 60) at time zone $tz)::date as day
    from generate_series(
        epoch(($first_day::date - 1)::timestamp)::bigint // 60,
        epoch(($last_day::date + 2)::timestamp)::bigint // 60 - 1
    ) as t(minute)
),

final as (
    select m.day, count(*) as raw_rows, count(*) filter (where not r.kept) as duplicates
    from raw_hits as r
    inner join minute_days as m using (minute)
    where m.day in (select unnest($days::date[]))
    group by all
)

select * from final
