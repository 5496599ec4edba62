-- ga4_events (temp, for one stage build): the GA4 unit's events of the window, each raw line
-- parsed once, for stage/events.sql, sessions.sql and the orders (_purchases.sql).
-- column event_id: md5 of the fields that identify the event (on-day events and purchases only)
-- column on_day: the event falls on one of $days in the reporting time zone
-- column event_timestamp: microseconds since the epoch (UTC), as exported
-- column local_ts: the event's time in the reporting time zone (timestamp without zone)
-- column event_date: the reporting day of the event
-- column event_name: GA4's event name
-- column user_id: the site's own user id
-- column user_pseudo_id: the visitor (null for a consent-mode ping)
-- column session_id: the visit: stream_id:user_pseudo_id:ga_session_id (null: in no visit)
-- column page_location: the page_location parameter
-- column page_referrer: the page_referrer parameter
-- column traffic: the event's own source, medium, campaign and content
-- column session_engaged: the event says session_engaged = 1 (null when it does not say)
-- column device_fields: category, operating system, browser (two places), language (on-day)
-- column geo_fields: country name and region (on-day)
-- column product_id: the product added (on-day add_to_cart events)
-- column transaction_id: a purchase's transaction id (null when unset, empty or '(not set)')
-- column revenue: a purchase's ecommerce.purchase_revenue_in_usd
-- column items: a purchase's items[] as JSON text
-- The window is what the models need: the events of the days, the same visitors' events around
-- them (a visit may have begun the day before, and a visit of the last day ends within a day of
-- that day's end) and every purchase (a transaction repeated a day later is the same order).
-- Each on-day event and each purchase is there once (a line loaded twice keeps the copy that
-- arrived first); the visitors' other events may repeat, which their visit figures ignore.
-- A visit is assumed to last less than a day.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is, and the last day's
-- visits end before midnight after the next day in $tz: filtering on the raw microseconds first
-- lets DuckLake skip every data file outside the window. The lower bound is computed from a
-- date as UTC (timestamp, not timestamptz), whatever the session's time zone. The export's
-- event_date is the day in the property's time zone, not the reporting one.
ga4_utc as not materialized (
    select
        * exclude (event_date),
        event_timestamp // 60000000 as minute
    from raw.ga4_events
    where event_timestamp >= epoch_us(($first_day::date - 1)::timestamp)
      and event_timestamp < epoch_us(timezone($tz, ($last_day::date + 2)::timestamp))
),

-- the reporting time zone's offset for each distinct minute: converting each event to $tz
-- costs more than the rest of its row, and every time zone has kept whole-minute offsets
-- for a century (as the tracker's stage.events)
minute_offsets as (
    select
        minute,
        (to_timestamp(minute * 60) at time zone $tz) - make_timestamp(minute * 60000000)
            as utc_offset
    from (select distinct minute from ga4_utc)
),

ga4_window as not materialized (
    select
        g.* exclude (minute),
        make_timestamp(g.event_timestamp) + o.utc_offset as local_ts,
        local_ts::date as event_date,
        list_contains($days::date[], event_date) as on_day
    from ga4_utc as g
    inner join minute_offsets as o using (minute)
),

-- the visitors of the days (their visits may have begun the day before)
day_users as (
    select distinct user_pseudo_id
    from ga4_window
    where on_day and user_pseudo_id is not null
),

-- event_params is a list of {key, value{string_value, int_value, float_value, double_value}}:
-- parsed once per event, and only for the events kept. GA4 has no event id: event_id is the
-- md5 of the fields that identify an event (the same line loaded twice gives the same id; two
-- events of one batch differ in batch_event_index or in their params), for the days' events
-- and the purchases only (the ones deduplicated).
parsed as not materialized (
    select
        *,
        case when on_day or event_name = 'purchase' then md5(concat(
            user_pseudo_id, '|', event_timestamp, '|', event_name, '|', stream_id, '|',
            event_bundle_sequence_id, '|', batch_event_index, '|', batch_page_id, '|',
            batch_ordering_id, '|', event_params
        )) end as event_id,
        from_json(event_params, '[{"key": "VARCHAR", "value": {"string_value": "VARCHAR",
            "int_value": "VARCHAR", "float_value": "VARCHAR", "double_value": "VARCHAR"}}]')
            as param_list
    from ga4_window
    left join day_users as u using (user_pseudo_id)
    where on_day or u.user_pseudo_id is not null or event_name = 'purchase'
),

-- every parameter's key, and its value read as its text (int_value arrives as a string or a
-- number, session_engaged as int 1 or string '1'), as two lists: a parameter is the value at
-- the position of its key's first occurrence (list_position, no lambda per parameter)
params as not materialized (
    select
        *,
        list_transform(param_list, lambda p: p.key) as param_keys,
        list_transform(param_list, lambda p: coalesce(p.value.string_value, p.value.int_value,
            p.value.double_value, p.value.float_value)) as param_values,
        json_extract_string(collected_traffic_source, [
            '$.manual_source', '$.manual_medium', '$.manual_campaign_name', '$.manual_content'
        ]) as collected,
        param_values[list_position(param_keys, 'ga_session_id')] as ga_session_id
    from parsed
),

-- the visit key and the event's own traffic source: the source/medium/campaign/content
-- parameters, else the manually tagged ones GA collected (collected_traffic_source). Computed
-- once (materialized) and only what the models need: the wide JSON columns stay behind.
keyed as materialized (
    select
        event_id,
        on_day,
        event_timestamp,
        local_ts,
        event_date,
        event_name,
        user_id,
        user_pseudo_id,
        case
            when user_pseudo_id is not null and ga_session_id is not null
                then concat_ws(':', stream_id, user_pseudo_id, ga_session_id)
        end as session_id,
        param_values[list_position(param_keys, 'page_location')] as page_location,
        param_values[list_position(param_keys, 'page_referrer')] as page_referrer,
        {
            'source': coalesce(param_values[list_position(param_keys, 'source')],
                collected[1]),
            'medium': coalesce(param_values[list_position(param_keys, 'medium')],
                collected[2]),
            'campaign': coalesce(param_values[list_position(param_keys, 'campaign')],
                collected[3]),
            'content': coalesce(param_values[list_position(param_keys, 'content')],
                collected[4])
        } as traffic,
        param_values[list_position(param_keys, 'session_engaged')] = '1'
            as session_engaged,
        -- device and geo fields, and the product added, of the days' events only
        case when on_day then json_extract_string(device, [
            '$.category', '$.operating_system', '$.web_info.browser', '$.browser', '$.language'
        ]) end as device_fields,
        case when on_day then json_extract_string(geo, ['$.country', '$.region']) end
            as geo_fields,
        case when on_day and event_name = 'add_to_cart'
            then json_extract_string(items, '$[0].item_id') end as product_id,
        -- a purchase's transaction id: ecommerce.transaction_id, else the transaction_id
        -- parameter as a string or an integer; unset, empty and '(not set)' are no id
        case when event_name = 'purchase' then coalesce(
            nullif(nullif(trim(json_extract_string(ecommerce, '$.transaction_id')), ''),
                '(not set)'),
            nullif(nullif(trim(coalesce(
                param_list[list_position(param_keys, 'transaction_id')].value.string_value,
                param_list[list_position(param_keys, 'transaction_id')].value.int_value
            )), ''), '(not set)')
        ) end as transaction_id,
        case when event_name = 'purchase' then try_cast(
            json_extract_string(ecommerce, '$.purchase_revenue_in_usd') as decimal(18, 2)
        ) end as revenue,
        case when event_name = 'purchase' then items end as items,
        _source_file,
        _loaded_at,
        _line_no,
        _batch_id
    from params
),

-- when each loaded file arrived (ops.landed_files.landed_at, by its source and load batch): of
-- a duplicated line, the copy that arrived first is kept, whatever its file is named
arrivals as (
    select l.source_uri as _source_file, l.batch_id as _batch_id, min(f.landed_at) as arrived_at
    from ops.load_ledger as l
    inner join ops.landed_files as f using (landing_uri)
    group by all
),

-- Deduplication: a line loaded twice keeps the copy that arrived first. Keys with more than one
-- copy are few: they are found by a cheap count and only their rows are ordered. Rows without an
-- id (the visitors' events off the days) pass as they are.
dupes as (
    select event_id from keyed where event_id is not null group by event_id having count(*) > 1
),

final as (
    select * exclude (_batch_id)
    from keyed
    anti join dupes using (event_id)
    union all
    select k.* exclude (_batch_id)
    from keyed as k
    semi join dupes using (event_id)
    left join arrivals as a using (_source_file, _batch_id)
    qualify row_number() over (
        partition by event_id order by a.arrived_at, k._loaded_at, k._source_file, k._line_no
    ) = 1
)

select * from final
