-- checks.sessions_unique: no visit appears twice in stage.sessions.
-- severity: error
-- layer: stage
select session_id, count(*) as copies
from stage.sessions
where session_date in (select unnest($days::date[]))
group by session_id
having count(*) > 1
