-- stage.orders (ga360): one row per order: a transactionId of the export's completed-purchase
-- hits (eCommerceAction.action_type '6'), on the day of the first hit that reports it.
-- An order is counted once even when several hits repeat its transactionId (a reloaded receipt
-- page): the first one by time and hitNumber is the order. A purchase hit whose transactionId is
-- null, '' or '(not set)' cannot be matched with another: each such hit is an order of its own
-- (order_id = session key || '-' || hitNumber). Revenue is the hit's
-- transaction.transactionRevenue (total with tax and shipping; GA360 money is in millionths);
-- items count units of the hit's products that were bought, not those only listed
-- (isImpression). The same rules pick the rows of stage.order_items (order_items.sql).

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

-- only the hits' fields an order needs, parsed once per visit
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
               "transaction": {"transactionId": "VARCHAR", "transactionRevenue": "BIGINT"},
               "product": [{"productPrice": "BIGINT", "productQuantity": "BIGINT",
                            "isImpression": "BOOLEAN"}]}]'
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
        to_timestamp(visitStartTime) + to_milliseconds(coalesce(hit.time, 0)) as order_ts,
        visit_key,
        hit.hitNumber as hit_number,
        case when is_session then visit_key end as session_id,
        visitor_id,
        hit.transaction.transactionRevenue as revenue_micros,
        -- bought lines only: impressions were listed, not bought; a line without a quantity is
        -- one unit
        list_filter(hit.product, lambda p: not coalesce(p.isImpression, false)) as lines
    from hits
    where hit.eCommerceAction.action_type = '6'
),

-- purchase hits are few: ordering each order's hits costs little
first_hits as (
    select *
    from purchases
    qualify row_number() over (partition by order_id order by order_ts, visit_key, hit_number) = 1
),

final as (
    select
        order_id,
        order_ts,
        (order_ts at time zone $tz)::date as order_date,
        session_id,
        visitor_id,
        coalesce(list_sum([greatest(coalesce(l.productQuantity, 1), 1) for l in lines]), 0)::bigint
            as items,
        -- the transaction's revenue; without one, what its priced lines add up to
        (
            coalesce(
                revenue_micros,
                list_sum([l.productPrice * greatest(coalesce(l.productQuantity, 1), 1)
                    for l in lines]),
                0
            )::decimal(18, 0) * 0.000001
        )::decimal(18, 2) as revenue,
        coalesce(
            list_sum([greatest(coalesce(l.productQuantity, 1), 1) for l in lines
                if l.productPrice is null]),
            0
        )::bigint as unpriced_items
    from first_hits
    where (order_ts at time zone $tz)::date between $first_day::date and $last_day::date
      and (order_ts at time zone $tz)::date in (select day from days)
)

select * from final
