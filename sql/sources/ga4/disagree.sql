-- disagreeing duplicates (ga4): the events of $days whose event id (the md5 stage/_events.sql
-- gives: the fields that identify an event) has copies with different content (any field but
-- the lineage), with how many copies and versions. Stage keeps the copy that arrived first.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is. The event id is the
-- md5 of id_fields followed by event_params. head_hash is a 64-bit hash of that text's first
-- eight '|'-separated pieces, the numeric ones as numbers: the fields before event_params,
-- unless a text field holds a '|' itself (then the pieces are cut from the text). It is a
-- function of the text, so copies share it, and it needs neither event_params (most of a row)
-- nor an md5.
window_rows as not materialized (
    select
        *,
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

-- only the ids with several copies are compared (they are few), found by head_hash: a row
-- that shares it with another but not the whole text is one copy with one version, which
-- `copies` drops. Only these rows are read whole and get the md5.
repeated as (
    select head_hash from window_rows group by head_hash having count(*) > 1
),

-- each copy's content: the row without its lineage, with its event id
contents as (
    select
        * exclude (_source_file, _line_no, _batch_id, _loaded_at, _source_date, id_fields,
            head_hash),
        md5(concat(id_fields, event_params)) as event_id
    from window_rows
    where head_hash in (select head_hash from repeated)
),

copies as (
    select
        c.event_id,
        (make_timestamptz(min(c.event_timestamp)) at time zone $tz)::date as day,
        count(*) as copies,
        count(distinct hash(c)) as versions
    from contents as c
    group by c.event_id
)

select day, event_id, copies, versions
from copies
where versions > 1 and day in (select unnest($days::date[]))
