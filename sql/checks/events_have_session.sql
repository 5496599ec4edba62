-- checks.events_have_session: every event of a visit belongs to a visit that stage.sessions
-- knows (events in no visit have no session_id).
-- severity: error
-- layer: stage
with

days as (
    select unnest($days::date[]) as day
),

-- a visit starts on its events' day or the day before (visits last less than a day). Both
-- reads are bounded by constants ($first_day, $last_day), which lets DuckLake skip the data
-- files of other days: bounds from `days` are known only at run time, and every day of
-- history was read
sessions as (
    select session_id
    from stage.sessions
    where session_date between $first_day::date - 1 and $last_day::date
)

select e.event_id, e.session_id
from stage.events as e
anti join sessions as s using (session_id)
where e.event_date between $first_day::date and $last_day::date
  and e.event_date in (select day from days)
  and e.session_id is not null
