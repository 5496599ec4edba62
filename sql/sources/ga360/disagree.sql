-- disagreeing duplicates (ga360): the visits starting on $days whose key (fullVisitorId,
-- visitId, visitStartTime, date: what stage/_visits.sql deduplicates on) has copies with
-- different content (any field but the lineage), with how many copies and versions. Stage keeps
-- the copy that arrived first.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
window_rows as not materialized (
    select *
    from raw.ga_sessions
    where visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
),

-- only the keys with several copies are compared (they are few). They are found by a 64-bit
-- hash of the key, cheaper to group than its four columns: copies share their key's hash, and
-- a key that shares a hash by chance alone is one copy with one version, which `copies` drops.
repeated as (
    select hash(fullVisitorId, visitId, visitStartTime, date) as key_hash
    from window_rows
    group by key_hash
    having count(*) > 1
),

-- each copy's content: the row without its lineage
contents as (
    select * exclude (_source_file, _line_no, _batch_id, _loaded_at, _source_date)
    from window_rows
    where hash(fullVisitorId, visitId, visitStartTime, date) in (select key_hash from repeated)
),

copies as (
    select
        concat_ws('.', c.fullVisitorId, c.visitId, c.visitStartTime) as event_id,
        (to_timestamp(min(c.visitStartTime)) at time zone $tz)::date as day,
        count(*) as copies,
        count(distinct hash(c)) as versions
    from contents as c
    group by c.fullVisitorId, c.visitId, c.visitStartTime, c.date
)

select day, event_id, copies, versions
from copies
where versions > 1 and day in (select unnest($days::date[]))
