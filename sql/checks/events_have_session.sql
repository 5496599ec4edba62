-- checks.events_have_session: every event of a visit belongs to a visit that stage.sessions
-- knows (events in no visit have no session_id).
-- severity: error
-- layer: stage
with

days as (
    select unnest($days::date[]) as day
),

-- a visit starts on its events' day or the day before (visits last less than a day)
sessions as (
    select session_id
    from stage.sessions
    where session_date between (select min(day) - 1 from days) and (select max(day) from days)
)

select e.event_id, e.session_id
from stage.events as e
anti join sessions as s using (session_id)
where e.event_date in (select day from days) and e.session_id is not null
