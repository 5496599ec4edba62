-- stage.order_items (ga360): one row per unit bought: a product line of an order's purchase hit
-- with quantity q gives q rows, each with the line's unit price (so count(*) is units and
-- sum(price) the lines' revenue, as for the tracker's items).
-- An order is the first purchase hit (eCommerceAction.action_type '6') that reports its
-- transactionId, and a hit whose transactionId is null, '' or '(not set)' is an order of its
-- own, exactly as in orders.sql; its items are that hit's products, not those only listed
-- (isImpression). GA does not say which add-to-cart hit put a product in the basket: added_at
-- is null and item_event_id is the purchase hit's event.

with

days as (
    select unnest($days::date[]) as day
),

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is, and a visit starts
-- before its hits and lasts less than a day: filtering on visitStartTime first lets DuckLake
-- skip every data file outside the window (the same window as events.sql, so that both key a
-- visit alike).
keys as not materialized (
    select fullVisitorId, visitId, visitStartTime, date, _source_file, _line_no, _loaded_at
    from raw.ga_sessions
    where visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
),

-- A visit key with several rows holds copies of a line loaded twice (same visitStartTime and
-- date: the first-loaded copy is kept) or the parts of a visit GA split at the property's
-- midnight (same visitId, another visitStartTime or date: each is a session of its own, the
-- later parts keyed '.2', '.3'). Such keys are few: a count over the keys alone finds them,
-- only their rows are ordered, and the visits' (large) nested columns are read once, below.
repeated_keys as (
    select fullVisitorId, visitId from keys group by all having count(*) > 1
),

repeated_rows as (
    select
        _source_file,
        _line_no,
        row_number() over (
            partition by fullVisitorId, visitId, visitStartTime, date
            order by _loaded_at, _source_file, _line_no
        ) as copy,
        dense_rank() over (partition by fullVisitorId, visitId order by visitStartTime, date)
            as part
    from keys
    semi join repeated_keys using (fullVisitorId, visitId)
),

visits as (
    select
        r.fullVisitorId,
        r.visitStartTime,
        r.totals,
        r.hits,
        r.fullVisitorId || '.' || r.visitId
            || case when x.part > 1 then '.' || x.part::varchar else '' end as visit_key
    from raw.ga_sessions as r
    left join repeated_rows as x using (_source_file, _line_no)
    where r.visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and r.visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
      and coalesce(x.copy, 1) = 1
      -- a visit without a completed purchase has no order: a scan of its text is cheaper
      -- than parsing its hits (action_type is a string, a number in some exports)
      and regexp_matches(r.hits::varchar, '"action_type"\s*:\s*"?6[",}\s]')
),

-- only the hits' fields an order's items need, parsed once per visit
hits as (
    select
        visit_key,
        fullVisitorId as visitor_id,
        try_cast(totals ->> '$.visits' as double) = 1 as is_session,
        visitStartTime,
        unnest(from_json(
            hits,
            '[{"hitNumber": "BIGINT", "time": "BIGINT",
               "eCommerceAction": {"action_type": "VARCHAR"},
               "transaction": {"transactionId": "VARCHAR", "currencyCode": "VARCHAR"},
               "product": [{"productSKU": "VARCHAR", "v2ProductName": "VARCHAR",
                            "v2ProductCategory": "VARCHAR", "productPrice": "BIGINT",
                            "productQuantity": "BIGINT", "isImpression": "BOOLEAN"}]}]'
        )) as hit
    from visits
),

purchases as (
    select
        case
            when trim(coalesce(hit.transaction.transactionId, '')) in ('', '(not set)')
                then visit_key || '-' || hit.hitNumber::varchar
            else hit.transaction.transactionId
        end as order_id,
        visit_key || '-' || hit.hitNumber::varchar as item_event_id,
        to_timestamp(visitStartTime) + to_milliseconds(coalesce(hit.time, 0)) as order_ts,
        visit_key,
        hit.hitNumber as hit_number,
        case when is_session then visit_key end as session_id,
        visitor_id,
        hit.transaction.currencyCode as currency,
        hit.product as products
    from hits
    where hit.eCommerceAction.action_type = '6'
),

-- the order's hit, as orders.sql picks it: purchase hits are few, ordering them costs little
first_hits as (
    select *, (order_ts at time zone $tz)::date as order_date
    from purchases
    qualify row_number() over (partition by order_id order by order_ts, visit_key, hit_number) = 1
),

lines as (
    select * exclude (products), unnest(products) as line
    from first_hits
    where order_date between $first_day::date and $last_day::date
      and order_date in (select day from days)
),

-- a line without a quantity is one unit
units as (
    select *, unnest(generate_series(1, greatest(coalesce(line.productQuantity, 1), 1))) as unit
    from lines
    where not coalesce(line.isImpression, false)
),

final as (
    select
        order_id,
        item_event_id,
        order_ts,
        order_date,
        session_id,
        visitor_id,
        line.productSKU as product_id,
        line.v2ProductName as product_name,
        line.v2ProductCategory as category,
        null::timestamptz as added_at,
        (line.productPrice::decimal(18, 0) * 0.000001)::decimal(18, 2) as price,
        currency
    from units
)

select * from final
