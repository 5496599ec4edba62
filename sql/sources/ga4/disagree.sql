-- disagreeing duplicates (ga4): the events of $days whose event id (the md5 stage/_events.sql
-- gives: the fields that identify an event) has copies with different content (any field but
-- the lineage), with how many copies and versions. Stage keeps the copy that arrived first.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
window_rows as not materialized (
    select
        *,
        md5(concat(
            user_pseudo_id, '|', event_timestamp, '|', event_name, '|', stream_id, '|',
            event_bundle_sequence_id, '|', batch_event_index, '|', batch_page_id, '|',
            batch_ordering_id, '|', event_params
        )) as event_id
    from raw.ga4_events
    where event_timestamp >= epoch_us(($first_day::date - 1)::timestamp)
      and event_timestamp < epoch_us(($last_day::date + 2)::timestamp)
),

-- only the ids with several copies are compared (they are few)
repeated as (
    select event_id from window_rows group by event_id having count(*) > 1
),

-- each copy's content: the row without its lineage
contents as (
    select * exclude (_source_file, _line_no, _batch_id, _loaded_at, _source_date)
    from window_rows
    semi join repeated using (event_id)
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
