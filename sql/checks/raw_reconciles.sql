-- checks.raw_reconciles: every raw browser row of the days is in stage.events or is a duplicate
-- of one (raw rows = stage rows + duplicates; rejected lines never reached raw, see
-- ledger_reconciles).
-- severity: error
-- layer: stage
with

raw as (
    select
        (event_timestamp at time zone $tz)::date as day,
        count(*) as raw_rows,
        count(*) - count(distinct event_id) as duplicates
    from raw.browser_events
    where event_timestamp >= (select min(d) - 1 from unnest($days::date[]) as t(d))::timestamptz
      and event_timestamp < (select max(d) + 2 from unnest($days::date[]) as t(d))::timestamptz
    group by all
),

staged as (
    select event_date as day, count(*) as stage_rows
    from stage.events
    where event_date in (select unnest($days::date[]))
    group by all
)

select r.day, r.raw_rows, coalesce(s.stage_rows, 0) as stage_rows, r.duplicates
from raw as r
left join staged as s using (day)
where r.day in (select unnest($days::date[]))
  and r.raw_rows <> coalesce(s.stage_rows, 0) + r.duplicates
