-- affected days (ga4): the reporting days ($tz) whose stage and mart rows the load batches in
-- $batches can change: the days of the batches' own events (an event in no visit counts on its
-- day) and every day on which a visit touched by the batches has an event (a late event
-- re-counts its whole visit: its first event's day, and across midnight the next one). A visit
-- is assumed to last less than a day, so its other events lie within a day of the batches'.

with

batch_rows as not materialized (
    select event_timestamp, stream_id, user_pseudo_id, event_params
    from raw.ga4_events
    where _batch_id in (select unnest($batches))
),

-- the visitors' other events within a day of the batches' (the batches' own are counted
-- below): only those are read
nearby_rows as not materialized (
    select event_timestamp, stream_id, user_pseudo_id, event_params
    from raw.ga4_events
    where event_timestamp >= (select min(event_timestamp) - 86400000000 from batch_rows)
      and event_timestamp <= (select max(event_timestamp) + 86400000000 from batch_rows)
      and user_pseudo_id in (select user_pseudo_id from batch_rows)
      and _batch_id not in (select unnest($batches))
),

-- the visit key of each of those events, and of the batches' own events whose visitor has
-- any (no other event can share the visit of the rest: a first load parses nothing), as
-- _events.sql reads it (ga_session_id as text, whatever its JSON type), event_params parsed
-- once. A line without ga_session_id gives a null key that matches nothing.
keyed as materialized (
    select
        in_batch,
        event_timestamp,
        stream_id,
        user_pseudo_id,
        list_transform(
            list_filter(
                from_json(event_params, '[{"key": "VARCHAR", "value": {
                    "string_value": "VARCHAR", "int_value": "VARCHAR",
                    "float_value": "VARCHAR", "double_value": "VARCHAR"}}]'),
                lambda p: p.key = 'ga_session_id'
            ),
            lambda p: coalesce(p.value.string_value, p.value.int_value,
                p.value.double_value, p.value.float_value)
        )[1] as ga_session_id
    from (
        select true as in_batch, *
        from batch_rows
        where user_pseudo_id in (select user_pseudo_id from nearby_rows)
        union all
        select false as in_batch, * from nearby_rows
    )
),

batch_visits as (
    select distinct stream_id, user_pseudo_id, ga_session_id
    from keyed
    where in_batch
),

-- the other events of those visits
visit_rows as (
    select r.event_timestamp
    from keyed as r
    semi join batch_visits as v
        on v.user_pseudo_id = r.user_pseudo_id
        and v.ga_session_id = r.ga_session_id
        and v.stream_id is not distinct from r.stream_id
    where not r.in_batch
),

-- an event's reporting day, from its minute: converting each distinct minute to $tz, not each
-- event, costs a tenth (every time zone has kept whole-minute offsets for a century)
minutes as (
    select distinct event_timestamp // 60000000 as minute
    from (
        select event_timestamp from batch_rows
        union all
        select event_timestamp from visit_rows
    )
),

final as (
    select distinct (to_timestamp(minute * 60) at time zone $tz)::date as day
    from minutes
)

select day from final
order by day
