-- reconcile (ga4): for each of $days, the raw GA4 events that fall on it and how many of them
-- are duplicates of another (the same event loaded twice: stage keeps one copy): raw rows =
-- stage rows + duplicates. Rejected lines never reached raw (see ledger_reconciles).

with

days as (
    select unnest($days::date[]) as day
),

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
raw_rows as not materialized (
    select *, event_timestamp // 60000000 as minute
    from raw.ga4_events
    where event_timestamp >= epoch_us(($first_day::date - 1)::timestamp)
      and event_timestamp < epoch_us(($last_day::date + 2)::timestamp)
),

-- a row's reporting day, from its minute: each distinct minute is converted to $tz, not each
-- row (as in affected_days.sql)
minute_days as (
    select minute, (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (select distinct minute from raw_rows)
),

-- the event id as stage/events.sql derives it, only for the rows of the days
identified as (
    select
        m.day,
        md5(concat(
            r.user_pseudo_id, '|', r.event_timestamp, '|', r.event_name, '|', r.stream_id, '|',
            r.event_bundle_sequence_id, '|', r.batch_event_index, '|', r.batch_page_id, '|',
            r.batch_ordering_id, '|', r.event_params
        )) as event_id
    from raw_rows as r
    inner join minute_days as m using (minute)
    where m.day in (select day from days)
),

final as (
    select day, count(*) as raw_rows, count(*) - count(distinct event_id) as duplicates
    from identified
    group by day
)

select * from final
