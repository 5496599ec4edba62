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

-- only the ids with several copies are compared (they are few). They are found by a 64-bit
-- hash of the id, far cheaper to group than its text: copies share their id's hash, and an id
-- that shares a hash by chance alone is one copy with one version, which `copies` drops.
repeated as (
    select hash(event_id) as id_hash from window_rows group by id_hash having count(*) > 1
),

-- each copy's content: the row without its lineage (a line's extra fields are in _unmapped)
contents as (
    select * exclude (_source_file, _line_no, _batch_id, _loaded_at, _source_date)
    from window_rows
    where hash(event_id) in (select id_hash from repeated)
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
