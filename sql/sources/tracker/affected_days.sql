-- The reporting days ($tz) whose stage and mart rows the load batches in $batches can change:
-- every day on which a visit touched by the batches has an event (so a late event re-counts
-- its whole visit, across midnight too), and, when product rows arrived, every day from their
-- earliest change on (orders after a price change are repriced).

with

batch_clicks as (
    select click_id from raw.browser_events where _batch_id in (select unnest($batches))
    union
    select click_id from raw.device_events where _batch_id in (select unnest($batches))
    union
    select click_id from raw.geo_events where _batch_id in (select unnest($batches))
    union
    select b.click_id
    from raw.location_events as l
    inner join raw.browser_events as b using (event_id)
    where l._batch_id in (select unnest($batches))
),

-- an event's reporting day, from its minute: converting each distinct minute to $tz, not each
-- event, costs a tenth (every time zone has kept whole-minute offsets for a century)
visit_days as (
    select distinct (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (
        select distinct floor(epoch_ms(event_timestamp) / 60000)::bigint as minute
        from raw.browser_events
        where click_id in (select click_id from batch_clicks)
    )
),

price_change as (
    select min(updated_at) as changed_at
    from raw.products
    where _batch_id in (select unnest($batches))
),

repriced_days as (
    select distinct (to_timestamp(minute * 60) at time zone $tz)::date as day
    from (
        select distinct floor(epoch_ms(b.event_timestamp) / 60000)::bigint as minute
        from raw.browser_events as b, price_change as p
        where b.event_timestamp >= p.changed_at
    )
)

select day from visit_days
union
select day from repriced_days
order by day
