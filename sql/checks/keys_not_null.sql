-- checks.keys_not_null: every event has its id and time; every visit its id and start. (An
-- event may belong to no visit: a GA4 consent-mode ping, a GA360 non-interactive hit.)
-- severity: error
-- layer: stage
select 'stage.events' as model, event_id as id
from stage.events
where event_date in (select unnest($days::date[]))
  and (event_id is null or event_ts is null)
union all
select 'stage.sessions', session_id
from stage.sessions
where session_date in (select unnest($days::date[]))
  and (session_id is null or session_start is null)
