-- reconcile (ga4): for each of $days, the raw GA4 events that fall on it and how many of them
-- are duplicates of another (the same event loaded twice: stage keeps one copy): raw rows =
-- stage rows + duplicates. Rejected lines never reached raw (see ledger_reconciles).

with

days as (
    select unnest($days::date[]) as day
),

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
raw_rows as not materialized (
    select *, rowid, event_timestamp // 60000000 as minute
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

-- the text stage/events.sql hashes (md5) into the event id: two rows are one event when it is
-- the same. A 64-bit hash of it first: rows whose hash no other row shares are distinct
-- events, and only the rest (the duplicates, and a rare collision) get the md5. Reading their
-- text again by rowid costs nothing when there are none, where an md5 of every row cost most
-- of this check.
hashed as materialized (
    select
        m.day,
        r.rowid as row_id,
        hash(concat(
            r.user_pseudo_id, '|', r.event_timestamp, '|', r.event_name, '|', r.stream_id, '|',
            r.event_bundle_sequence_id, '|', r.batch_event_index, '|', r.batch_page_id, '|',
            r.batch_ordering_id, '|', r.event_params
        )) as h
    from raw_rows as r
    inner join minute_days as m using (minute)
    where m.day in (select day from days)
),

shared as (
    select day, row_id
    from hashed
    semi join (select h from hashed group by h having count(*) > 1) as s using (h)
),

-- the duplicates among the rows that share a hash: the same event id, as stage dedupes
repeats as (
    select
        s.day,
        count(*) - count(distinct md5(concat(
            r.user_pseudo_id, '|', r.event_timestamp, '|', r.event_name, '|', r.stream_id, '|',
            r.event_bundle_sequence_id, '|', r.batch_event_index, '|', r.batch_page_id, '|',
            r.batch_ordering_id, '|', r.event_params
        ))) as duplicates
    from shared as s
    inner join raw.ga4_events as r on r.rowid = s.row_id
    group by s.day
),

final as (
    select h.day, count(*) as raw_rows, coalesce(any_value(p.duplicates), 0) as duplicates
    from hashed as h
    left join repeats as p using (day)
    group by h.day
)

select * from final
