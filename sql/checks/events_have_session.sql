-- checks.events_have_session: every event belongs to a visit that stage.sessions knows.
-- severity: error
-- layer: stage
select e.event_id, e.session_id
from stage.events as e
anti join stage.sessions as s using (session_id)
where e.event_date in (select unnest($days::date[]))
