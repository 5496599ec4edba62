-- checks.events_unique: no event appears twice in stage.events (ids are unique per format).
-- severity: error
-- layer: stage
with

day_events as not materialized (
    select source_format, event_id
    from stage.events
    where event_date between $first_day::date and $last_day::date
      and event_date in (select unnest($days::date[]))
),

-- the ids that can repeat, by a 64-bit hash of format and id, far cheaper to group than the
-- text: an id whose hash no other row shares appears once, so only the rest (the repeated
-- ones, and a rare id that shares a hash by chance) are grouped exactly below
repeated as (
    select hash(source_format, event_id) as key_hash
    from day_events
    group by key_hash
    having count(*) > 1
)

select source_format, event_id, count(*) as copies
from day_events
where hash(source_format, event_id) in (select key_hash from repeated)
group by source_format, event_id
having count(*) > 1
