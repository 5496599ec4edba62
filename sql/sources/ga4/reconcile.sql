-- reconcile (ga4): for each of $days, the raw GA4 events that fall on it and how many of them
-- are duplicates of another (the same event loaded twice: stage keeps one copy): raw rows =
-- stage rows + duplicates. Rejected lines never reached raw (see ledger_reconciles).

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is. Two rows are one
-- event when the text stage/events.sql hashes (md5) into the event id is the same: id_fields
-- followed by event_params. head_hash is a 64-bit hash of that text's first eight
-- '|'-separated pieces, the numeric ones as numbers: the fields before event_params, unless a
-- text field holds a '|' itself (then the pieces are cut from the text). It is a function of
-- the text, so copies share it, and it needs neither event_params (most of a row) nor an md5.
raw_rows as not materialized (
    select
        event_timestamp // 60000000 as minute,
        event_params,
        concat(
            user_pseudo_id, '|', event_timestamp, '|', event_name, '|', stream_id, '|',
            event_bundle_sequence_id, '|', batch_event_index, '|', batch_page_id, '|',
            batch_ordering_id, '|'
        ) as id_fields,
        case
            when contains(user_pseudo_id, '|') or contains(event_name, '|')
                or contains(stream_id, '|')
                then hash(
                    split_part(id_fields, '|', 1),
                    try_cast(split_part(id_fields, '|', 2) as bigint),
                    split_part(id_fields, '|', 3),
                    split_part(id_fields, '|', 4),
                    try_cast(split_part(id_fields, '|', 5) as bigint),
                    try_cast(split_part(id_fields, '|', 6) as bigint),
                    try_cast(split_part(id_fields, '|', 7) as bigint),
                    try_cast(split_part(id_fields, '|', 8) as bigint)
                )
            else hash(
                coalesce(user_pseudo_id, ''), event_timestamp, event_name, coalesce(stream_id, ''),
                event_bundle_sequence_id, batch_event_index, batch_page_id, batch_ordering_id
            )
        end as head_hash
    from raw.ga4_events
    where event_timestamp >= epoch_us(($first_day::date - 1)::timestamp)
      and event_timestamp < epoch_us(($last_day::date + 2)::timestamp)
),

-- the rows of each minute, and the minute's reporting day: each minute is converted to $tz,
-- not each row (as in affected_days.sql), and the rows are counted by minute, not by day
minute_days as (
    select minute, rows, (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (select minute, count(*) as rows from raw_rows group by minute)
),

-- the rows that can be copies of one event, by head_hash: a row whose hash no other row
-- shares is an event of its own, so only the rest (the copies, and the rare rows that share
-- it by chance) get the md5 and are counted exactly
repeated as (
    select head_hash from raw_rows group by head_hash having count(*) > 1
),

repeats as (
    select
        m.day,
        count(*) - count(distinct md5(concat(r.id_fields, r.event_params))) as duplicates
    from raw_rows as r
    inner join minute_days as m using (minute)
    where r.head_hash in (select head_hash from repeated)
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
