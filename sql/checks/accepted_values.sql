-- checks.accepted_values: event types and device types are ones each source format declares
-- (`[accepted]` in its source.toml); a format that lists none for a field accepts any.
-- severity: warn
-- layer: stage
with

declared as (
    select distinct a.format, a.accepted.field as field, a.accepted.value as value
    from (
        select s.format, unnest(s.accepted) as accepted
        from (
            select unnest(from_json($sources, '[{"format": "VARCHAR",
                "accepted": [{"field": "VARCHAR", "value": "VARCHAR"}]}]'), recursive := true)
        ) as s
    ) as a
),

checked as (
    select distinct format, field from declared
),

observed as (
    select source_format as format, 'event_type' as field, event_type as value, count(*) as events
    from stage.events
    where event_date in (select unnest($days::date[]))
    group by all
    union all
    select source_format, 'device_type', device_type, count(*)
    from stage.events
    where event_date in (select unnest($days::date[]))
    group by all
)

select o.format, o.field, o.value, o.events
from observed as o
semi join checked as c using (format, field)
anti join declared as d using (format, field, value)
