-- checks.raw_reconciles: per source format and day, every raw event row is in stage.events or
-- is a duplicate of one (raw rows = stage rows + duplicates; rejected lines never reached raw,
-- see ledger_reconciles). Each format says how its raw rows become events in reconcile.sql.
-- severity: error
-- layer: stage
-- union: reconcile.sql
with

staged as (
    select source_format, event_date as day, count(*) as stage_rows
    from stage.events
    where event_date in (select unnest($days::date[]))
    group by all
)

select r.source_format, r.day, r.raw_rows, coalesce(s.stage_rows, 0) as stage_rows, r.duplicates
from source_rows as r
left join staged as s using (source_format, day)
where r.raw_rows <> coalesce(s.stage_rows, 0) + r.duplicates
