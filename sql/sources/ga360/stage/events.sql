-- stage.events (ga360): one row per hit of the GA360 export's visits, on the hit's day.
-- depends_on: stage.page_rules, temp.ga360_visits
-- A hit happens at visitStartTime + hits.time / 1000 (time is milliseconds since the visit's
-- start) and is numbered by hitNumber in its visit: event_id = session key || '-' || hitNumber.
-- The visits come keyed, deduplicated and parsed from the unit's _visits.sql (the temp table
-- ga360_visits). A visit that is no session (totals.visits not 1) holds only non-interactive
-- hits: its hits are events in no session (session_id null), still of their visitor. Traffic
-- source, device and geo are the visit's (GA records them once per visit). ecommerce_action
-- comes from hits.eCommerceAction.action_type (a string: '3' add to cart, '6' completed
-- purchase), not from the page rules, which give page_type and funnel_step; products flagged
-- isImpression were only listed, never added.

with

days as (
    select unnest($days::date[]) as day
),

-- one row per hit of the window's visits (keyed, deduplicated and parsed in _visits.sql)
hits as not materialized (
    select * exclude (hits, totals), unnest(hits) as hit
    from ga360_visits
),

-- the hit's instant, exact to the millisecond; its minute for the time-zone conversion
timed as not materialized (
    select
        *,
        visitStartTime * 1000 + coalesce(hit.time, 0) as epoch_ms,
        epoch_ms // 60000 as minute
    from hits
),

-- the reporting time zone's offset for each minute of the window: converting each hit to $tz
-- costs more than the rest of its row, and every time zone has kept whole-minute offsets for a
-- century (as in the tracker's events). The window's minutes are known without reading the
-- hits; a hit after the window lies after the last day anyway.
minute_offsets as (
    select
        minute,
        (to_timestamp(minute * 60) at time zone $tz) - make_timestamp(minute * 60000000)
            as utc_offset
    from generate_series(
        epoch(($first_day::date - 1)::timestamp)::bigint // 60,
        epoch(($last_day::date + 2)::timestamp)::bigint // 60 - 1
    ) as t(minute)
),

dated as (
    select
        t.*,
        make_timestamp(t.epoch_ms * 1000) + o.utc_offset as local_ts,
        local_ts::date as event_date
    from timed as t
    inner join minute_offsets as o using (minute)
    where local_ts::date between $first_day::date and $last_day::date
      and local_ts::date in (select day from days)
),

cleaned as (
    select *, split_part(hit.page.pagePath, '?', 1) as page_path
    from dated
),

-- the rules are regular expressions: match each distinct path once, not every hit
paths as (
    select distinct page_path from cleaned
),

path_rules as (
    select p.page_path, r.page_type, r.funnel_step
    from paths as p
    left join stage.page_rules as r on regexp_matches(coalesce(p.page_path, ''), r.pattern)
    qualify row_number() over (partition by p.page_path order by r.priority) = 1
),

final as (
    select
        -- ids
        c.visit_key || '-' || c.hit.hitNumber::varchar as event_id,
        -- timestamps
        to_timestamp(c.visitStartTime) + to_milliseconds(coalesce(c.hit.time, 0)) as event_ts,
        c.event_date,
        date_trunc('hour', c.local_ts) as event_hour,
        -- what happened
        case when c.hit.type = 'PAGE' then 'pageview' else lower(c.hit.type) end as event_type,
        coalesce(c.hit.type = 'PAGE', false) as is_pageview,
        case when c.is_session then c.visit_key end as session_id,
        c.visitor_id,
        c.user_custom_id,
        -- page
        'https://' || c.hit.page.hostname || c.hit.page.pagePath as page_url,
        c.page_path,
        r.page_type,
        case when c.hit.type = 'PAGE' then r.funnel_step end as funnel_step,
        case c.hit.eCommerceAction.action_type
            when '3' then 'add_to_cart'
            when '6' then 'purchase'
        end as ecommerce_action,
        case
            when c.hit.eCommerceAction.action_type = '3'
                then list_filter(c.hit.product, lambda p: not coalesce(p.isImpression, false))[1]
                    .productSKU
        end as product_id,
        -- traffic source, device, browser, geo (the visit's, cleaned in _visits.sql)
        nullif(c.hit.referer, '') as referer_url,
        c.referer_medium,
        c.utm_source,
        c.utm_medium,
        c.utm_campaign,
        c.utm_content,
        c.device_type,
        c.device_is_mobile,
        c.os_name,
        c.browser_name,
        c.browser_language,
        c.geo_country,
        c.geo_region,
        -- lineage
        c.source_file
    from cleaned as c
    left join path_rules as r on r.page_path is not distinct from c.page_path
)

select * from final
