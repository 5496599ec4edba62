-- reconcile (tracker): for each of $days, the raw browser rows whose event falls on it and how
-- many of them are duplicates of another (stage keeps one copy): raw rows = stage rows +
-- duplicates. Browser rows are the tracker's events; the other streams join onto them.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
raw_rows as not materialized (
    select event_id, floor(epoch_ms(event_timestamp) / 60000)::bigint as minute
    from raw.browser_events
    where event_timestamp >= ($first_day::date - 1)::timestamptz
      and event_timestamp < ($last_day::date + 2)::timestamptz
),

-- the rows of each minute, and the minute's reporting day: each minute is converted to $tz,
-- not each row (as in affected_days.sql), and the rows are counted by minute, not by day
minute_days as (
    select minute, rows, (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (select minute, count(*) as rows from raw_rows group by minute)
),

-- the ids that can repeat, by a 64-bit hash of the id, far cheaper to group than its text: a
-- row whose hash no other row shares is an event of its own, so only the rest (the copies,
-- and a rare id that shares a hash by chance) are counted exactly below
repeated as (
    select hash(event_id) as id_hash from raw_rows group by id_hash having count(*) > 1
),

repeats as (
    select m.day, count(*) - count(distinct r.event_id) as duplicates
    from raw_rows as r
    inner join minute_days as m using (minute)
    where hash(r.event_id) in (select id_hash from repeated)
    group by m.day
),

final as (
    select
        m.day,
        sum(m.rows)::bigint as raw_rows,
        coalesce(any_value(p.duplicates), 0) as duplicates
    from minute_days as m
    left join repeats as p using (day)
    where m.day in (select unnest($days::date[]))
    group by m.day
)

select * from final
