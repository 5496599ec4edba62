-- stage.order_items (ga4): one row per unit of a product in a GA4 order: an item line of
-- quantity q is q rows, each at the line's unit price (price_in_usd), so that counting rows
-- counts units and summing prices sums the items' value.
-- depends_on: stage.events
-- An order is one transaction_id (its first purchase event; later purchases repeating the id
-- are the same order, as GA counts it); a purchase whose id is null, empty or '(not set)'
-- cannot be matched with another and is its own order. Its items are the items[] of that
-- purchase event. GA4 does not link a purchase to the add_to_cart events before it: the item's
-- event is the purchase and added_at is unknown. A repeat of a transaction is recognised up to
-- a day after the first purchase (stage reads a day before the first day).

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
        items,
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
        items
    from purchases
    qualify row_number() over (
        partition by coalesce(transaction_id, event_id)
        order by event_timestamp, _loaded_at, _source_file, _line_no
    ) = 1
),

-- the orders whose first purchase is on the days, with its visit from stage.events
dated as (
    select
        o.order_id,
        o.event_id,
        o.items,
        e.event_ts as order_ts,
        e.event_date as order_date,
        e.session_id,
        e.visitor_id
    from orders as o
    inner join stage.events as e on e.event_id = o.event_id
    where e.source_format = 'ga4'
      and e.ecommerce_action = 'purchase'
      and e.event_date between $first_day::date and $last_day::date
      and e.event_date in (select day from days)
),

lines as (
    select
        d.* exclude (items),
        unnest(from_json(d.items, '[{"item_id": "VARCHAR", "item_name": "VARCHAR",
            "item_category": "VARCHAR", "price_in_usd": "VARCHAR", "quantity": "VARCHAR"}]'))
            as item
    from dated as d
),

-- a line of quantity q is q units; a missing quantity is one
units as (
    select
        *,
        unnest(range(greatest(coalesce(try_cast(item.quantity as bigint), 1), 1))) as unit
    from lines
),

final as (
    select
        order_id,
        event_id as item_event_id,
        order_ts,
        order_date,
        session_id,
        visitor_id,
        item.item_id as product_id,
        item.item_name as product_name,
        item.item_category as category,
        null::timestamptz as added_at,
        try_cast(item.price_in_usd as decimal(18, 2)) as price,
        case when item.price_in_usd is not null then 'USD' end as currency
    from units
)

select * from final
