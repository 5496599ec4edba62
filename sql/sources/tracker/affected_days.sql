-- The reporting days ($tz) whose stage and mart rows the load batches in $batches can change:
-- every day on which a visit touched by the batches has an event (so a late event re-counts
-- its whole visit, across midnight too), and, when product rows arrived, every day from their
-- earliest change on (orders after a price change are repriced). A batch's browser, device and
-- geo rows touch the visit of their click_id; a location row touches the visit of its event's
-- browser row, wherever that row is.
--
-- Every read of raw is bounded in time, so the cost follows the batches, not the days of
-- history:
-- - a visit lasts less than a day (stage.sessions assumes so): a touched visit's other events
--   are read only within a day of the batches' events;
-- - a location, device or geo row whose event or visit has no browser row in the batches (a
--   late file of its stream, a browser file still to come, a browser line rejected) is looked
--   up in raw, nearest first: from 6 hours before its folder's hour on, then two days further
--   back, then further back still, each only for the rows not found yet, so a file is found
--   however late it came and an empty step reads nothing. The tracker files an event under its
--   own hour or later, and stage.events reads these streams only from folders two days before
--   a day on: no browser row that such a row can change lies four days after its folder's day.

with

batch_ids as (
    select unnest($batches) as batch_id
),

-- the batches' browser rows: the visits they touch, and the instants every other read is
-- bounded by
batch_browser as materialized (
    select click_id, event_id, event_timestamp
    from raw.browser_events
    where _batch_id in (select batch_id from batch_ids)
),

-- the batches' location rows whose event, and device and geo rows whose visit, has no browser
-- row in the batches, each with the start of its folder's hour (the date= folder's day, and
-- its hour= folder when the name has one)
lone_events as materialized (
    select
        l.event_id,
        l._source_date,
        l._source_date::timestamp at time zone 'UTC'
            + to_hours(coalesce(try_cast(regexp_extract(l._source_file, '/hour=(\d\d)/', 1)
                as integer), 0)) as folder_at
    from raw.location_events as l
    anti join batch_browser as b using (event_id)
    where l._batch_id in (select batch_id from batch_ids)
),

lone_clicks as materialized (
    select
        v.click_id,
        v._source_date,
        v._source_date::timestamp at time zone 'UTC'
            + to_hours(coalesce(try_cast(regexp_extract(v._source_file, '/hour=(\d\d)/', 1)
                as integer), 0)) as folder_at
    from (
        select click_id, _source_date, _source_file
        from raw.device_events
        where _batch_id in (select batch_id from batch_ids)
        union all
        select click_id, _source_date, _source_file
        from raw.geo_events
        where _batch_id in (select batch_id from batch_ids)
    ) as v
    anti join batch_browser as b using (click_id)
),

-- the lookup's steps: [near, high), [middle, near), [-infinity, middle)
lone_bounds as (
    select
        min(folder_at) - interval 6 hour as near,
        near - interval 2 day as middle,
        (max(_source_date) + 4)::timestamp at time zone 'UTC' as high
    from (
        select _source_date, folder_at from lone_events
        union all
        select _source_date, folder_at from lone_clicks
    )
),

-- their browser rows, step by step: the rows of the events and of the visits not found yet
near_events as materialized (
    select b.event_id, b.click_id, b.event_timestamp
    from raw.browser_events as b
    semi join lone_events as l using (event_id)
    where b.event_timestamp >= (select near from lone_bounds)
      and b.event_timestamp < (select high from lone_bounds)
),

near_clicks as materialized (
    select b.click_id, b.event_timestamp
    from raw.browser_events as b
    semi join lone_clicks as l using (click_id)
    where b.event_timestamp >= (select near from lone_bounds)
      and b.event_timestamp < (select high from lone_bounds)
),

middle_events as materialized (
    select b.event_id, b.click_id, b.event_timestamp
    from raw.browser_events as b
    semi join (select event_id from lone_events anti join near_events using (event_id))
        using (event_id)
    where b.event_timestamp >= (select middle from lone_bounds)
      and b.event_timestamp < (select near from lone_bounds)
),

middle_clicks as materialized (
    select b.click_id, b.event_timestamp
    from raw.browser_events as b
    semi join (select click_id from lone_clicks anti join near_clicks using (click_id))
        using (click_id)
    where b.event_timestamp >= (select middle from lone_bounds)
      and b.event_timestamp < (select near from lone_bounds)
),

far_events as (
    select b.click_id, b.event_timestamp
    from raw.browser_events as b
    semi join (
        select event_id from lone_events
        anti join near_events using (event_id)
        anti join middle_events using (event_id)
    ) using (event_id)
    where b.event_timestamp < (select middle from lone_bounds)
),

far_clicks as (
    select b.click_id, b.event_timestamp
    from raw.browser_events as b
    semi join (
        select click_id from lone_clicks
        anti join near_clicks using (click_id)
        anti join middle_clicks using (click_id)
    ) using (click_id)
    where b.event_timestamp < (select middle from lone_bounds)
),

-- the events found so far of every touched visit
touched as materialized (
    select click_id, event_timestamp from batch_browser
    union all
    select click_id, event_timestamp from near_events
    union all
    select click_id, event_timestamp from near_clicks
    union all
    select click_id, event_timestamp from middle_events
    union all
    select click_id, event_timestamp from middle_clicks
    union all
    select click_id, event_timestamp from far_events
    union all
    select click_id, event_timestamp from far_clicks
),

-- their visits' other events: within a day of those, outside the batches (whose own events are
-- all in touched). The bounds are a table joined to the scan, which lets DuckLake skip the
-- files outside them; the visits are matched only when there are such events (a hash table of
-- a batch's visits costs more than the rest of this query).
visit_window as materialized (
    select
        min(event_timestamp) - interval 1 day as low,
        max(event_timestamp) + interval 1 day as high
    from touched
),

other_events as not materialized (
    select b.click_id, b.event_timestamp
    from raw.browser_events as b, visit_window as w
    where b.event_timestamp > w.low
      and b.event_timestamp < w.high
      and not list_contains($batches, b._batch_id)
),

visit_events as (
    select o.event_timestamp
    from other_events as o
    semi join (
        select click_id from touched where exists (select 1 from other_events)
    ) as t using (click_id)
),

price_change as (
    select min(updated_at) as changed_at
    from raw.products
    where _batch_id in (select batch_id from batch_ids)
),

-- (a bound that is null would read every file: none is when no product row arrived)
repriced_events as (
    select event_timestamp
    from raw.browser_events
    where event_timestamp >= coalesce((select changed_at from price_change), 'infinity')
),

-- an event's reporting day, from its minute: converting each distinct minute to $tz, not each
-- event, costs a tenth (every time zone has kept whole-minute offsets for a century)
minutes as (
    select distinct floor(epoch_ms(event_timestamp) / 60000)::bigint as minute
    from (
        select event_timestamp from touched
        union all
        select event_timestamp from visit_events
        union all
        select event_timestamp from repriced_events
    )
)

select distinct (to_timestamp(minute * 60) at time zone $tz)::date as day
from minutes
order by day
