-- checks.events_unique: no event appears twice in stage.events.
-- severity: error
-- layer: stage
select event_id, count(*) as copies
from stage.events
where event_date in (select unnest($days::date[]))
group by event_id
having count(*) > 1
