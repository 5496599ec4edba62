-- checks.raw_reconciles: every raw browser row of the days is in stage.events or is a duplicate
-- of one (raw rows = stage rows + duplicates; rejected lines never reached raw, see
-- ledger_reconciles).
-- severity: error
-- layer: stage
with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is
raw_rows as not materialized (
    select event_id, floor(epoch_ms(event_timestamp) / 60000)::bigint as minute
    from raw.browser_events
    where event_timestamp >= (select min(d) - 1 from unnest($days::date[]) as t(d))::timestamptz
      and event_timestamp < (select max(d) + 2 from unnest($days::date[]) as t(d))::timestamptz
),

-- a row's reporting day, from its minute: each distinct minute is converted to $tz, not each
-- row (as in affected_days.sql)
minute_days as (
    select minute, (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (select distinct minute from raw_rows)
),

raw as (
    select m.day, count(*) as raw_rows, count(*) - count(distinct r.event_id) as duplicates
    from raw_rows as r
    inner join minute_days as m using (minute)
    where m.day in (select unnest($days::date[]))
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
where r.raw_rows <> coalesce(s.stage_rows, 0) + r.duplicates
