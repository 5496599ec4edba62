-- checks.keys_not_null: every event has its id, time and visit; every visit its start.
-- severity: error
-- layer: stage
select 'stage.events' as model, event_id as id
from stage.events
where event_date in (select unnest($days::date[]))
  and (event_id is null or event_ts is null or session_id is null)
union all
select 'stage.sessions', session_id
from stage.sessions
where session_date in (select unnest($days::date[]))
  and (session_id is null or session_start is null)
