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

-- a row's reporting day, from its minute: each distinct minute is converted to $tz, not each
-- row (as in affected_days.sql)
minute_days as (
    select minute, (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (select distinct minute from raw_rows)
),

final as (
    select m.day, count(*) as raw_rows, count(*) - count(distinct r.event_id) as duplicates
    from raw_rows as r
    inner join minute_days as m using (minute)
    where m.day in (select unnest($days::date[]))
    group by all
)

select * from final
