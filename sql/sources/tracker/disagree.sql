-- disagreeing duplicates (tracker): the browser events of $days whose event id has copies with
-- different content (any field but the lineage), with how many copies and versions. Stage keeps
-- the copy that arrived first; checks.events_disagree reports the others.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
window_rows as not materialized (
    select *
    from raw.browser_events
    where event_timestamp >= ($first_day::date - 1)::timestamptz
      and event_timestamp < ($last_day::date + 2)::timestamptz
),

-- only the ids with several copies are compared (they are few)
repeated as (
    select event_id from window_rows group by event_id having count(*) > 1
),

-- each copy's content: the row without its lineage (a line's extra fields are in _unmapped)
contents as (
    select * exclude (_source_file, _line_no, _batch_id, _loaded_at, _source_date)
    from window_rows
    semi join repeated using (event_id)
),

copies as (
    select
        c.event_id,
        (min(c.event_timestamp) at time zone $tz)::date as day,
        count(*) as copies,
        count(distinct hash(c)) as versions
    from contents as c
    group by c.event_id
)

select day, event_id, copies, versions
from copies
where versions > 1 and day in (select unnest($days::date[]))
