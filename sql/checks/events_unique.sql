-- checks.events_unique: no event appears twice in stage.events (ids are unique per format).
-- severity: error
-- layer: stage
select source_format, event_id, count(*) as copies
from stage.events
where event_date in (select unnest($days::date[]))
group by source_format, event_id
having count(*) > 1
