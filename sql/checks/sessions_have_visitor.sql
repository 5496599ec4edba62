-- checks.sessions_have_visitor: every visit has its device row, hence a visitor.
-- severity: warn
-- layer: stage
select session_id
from stage.sessions
where visitor_id is null and session_date in (select unnest($days::date[]))
