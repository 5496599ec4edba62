-- stage.orders (ga4): one row per GA4 order: a transaction_id counted once, or a purchase
-- without one.
-- depends_on: stage.events, stage.order_items
-- An order is one transaction_id (its first purchase event; later purchases repeating the id
-- are the same order, as GA counts it); a purchase whose id is null, empty or '(not set)'
-- cannot be matched with another and is its own order (order_id = its event id), with its own
-- revenue. Revenue is GA's ecommerce.purchase_revenue_in_usd of that purchase; items and
-- unpriced items are counted from stage.order_items (units). A repeat of a transaction is
-- recognised up to a day after the first purchase (stage reads a day before the first day).

with

days as (
    select unnest($days::date[]) as day
),

-- purchase lines of the window (see stage/events.sql), with the event id stage/events.sql gives
purchase_lines as (
    select
        md5(concat(
            user_pseudo_id, '|', event_timestamp, '|', event_name, '|', stream_id, '|',
            event_bundle_sequence_id, '|', batch_event_index, '|', batch_page_id, '|',
            batch_ordering_id, '|', event_params
        )) as event_id,
        event_timestamp,
        nullif(nullif(trim(json_extract_string(ecommerce, '$.transaction_id')), ''),
            '(not set)') as ecommerce_transaction_id,
        try_cast(json_extract_string(ecommerce, '$.purchase_revenue_in_usd')
            as decimal(18, 2)) as revenue,
        event_params,
        _loaded_at,
        _source_file,
        _line_no
    from raw.ga4_events
    where event_name = 'purchase'
      and event_timestamp >= epoch_us(($first_day::date - 1)::timestamp)
      and event_timestamp < epoch_us(($last_day::date + 2)::timestamp)
),

-- a line loaded twice is one purchase (its first-loaded copy, as in stage.events)
purchases as (
    select
        *,
        coalesce(
            ecommerce_transaction_id,
            nullif(nullif(trim(list_transform(
                list_filter(
                    from_json(event_params, '[{"key": "VARCHAR", "value": {
                        "string_value": "VARCHAR", "int_value": "VARCHAR"}}]'),
                    lambda p: p.key = 'transaction_id'
                ),
                lambda p: coalesce(p.value.string_value, p.value.int_value)
            )[1]), ''), '(not set)')
        ) as transaction_id
    from purchase_lines
    qualify row_number() over (
        partition by event_id order by _loaded_at, _source_file, _line_no
    ) = 1
),

-- one order per transaction id: its first purchase
orders as (
    select
        coalesce(transaction_id, event_id) as order_id,
        event_id,
        revenue
    from purchases
    qualify row_number() over (
        partition by coalesce(transaction_id, event_id)
        order by event_timestamp, _loaded_at, _source_file, _line_no
    ) = 1
),

-- units of each order of the days (stage.order_items is built first)
units as (
    select
        order_id,
        count(*) as items,
        count(*) filter (where price is null) as unpriced_items
    from stage.order_items
    where source_format = 'ga4'
      and order_date between $first_day::date and $last_day::date
      and order_date in (select day from days)
    group by order_id
),

-- the orders whose first purchase is on the days, with its visit from stage.events
final as (
    select
        o.order_id,
        e.event_ts as order_ts,
        e.event_date as order_date,
        e.session_id,
        e.visitor_id,
        coalesce(u.items, 0) as items,
        coalesce(o.revenue, 0)::decimal(18, 2) as revenue,
        coalesce(u.unpriced_items, 0) as unpriced_items
    from orders as o
    inner join stage.events as e on e.event_id = o.event_id
    left join units as u on u.order_id = o.order_id
    where e.source_format = 'ga4'
      and e.ecommerce_action = 'purchase'
      and e.event_date between $first_day::date and $last_day::date
      and e.event_date in (select day from days)
)

select * from final
