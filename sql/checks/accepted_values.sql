-- checks.accepted_values: event types and device types are ones the marts know.
-- severity: warn
-- layer: stage
select 'event_type' as field, event_type as value, count(*) as events
from stage.events
where event_date in (select unnest($days::date[]))
  and event_type not in ('pageview', 'click')
group by all
union all
select 'device_type', device_type, count(*)
from stage.events
where event_date in (select unnest($days::date[]))
  and device_type not in ('desktop', 'mobile', 'tablet')
group by all
