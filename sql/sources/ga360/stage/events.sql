-- stage.events (ga360): one row per hit of the GA360 export's visits, on the hit's day.
-- depends_on: stage.page_rules
-- A hit happens at visitStartTime + hits.time / 1000 (time is milliseconds since the visit's
-- start) and is numbered by hitNumber in its visit: event_id = session key || '-' || hitNumber.
-- The visit key is fullVisitorId + visitId (visitId is unique only per visitor). A row whose
-- totals.visits is not 1 holds only non-interactive hits and is no session for Google: its hits
-- are events in no session (session_id null), still of their visitor. A line loaded twice keeps
-- its first-loaded copy. Traffic source, device and geo are the visit's (GA records them once
-- per visit). ecommerce_action comes from hits.eCommerceAction.action_type (a string: '3' add
-- to cart, '6' completed purchase), not from the page rules, which give page_type and
-- funnel_step; products flagged isImpression were only listed, never added.

with

days as (
    select unnest($days::date[]) as day
),

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is, and a visit starts
-- before its hits and lasts less than a day (GA ends visits at the property's midnight):
-- filtering on visitStartTime first lets DuckLake skip every data file outside the window.
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
        r.userId,
        r.totals,
        r.trafficSource,
        r.device,
        r.geoNetwork,
        r.hits,
        r._source_file,
        r.fullVisitorId || '.' || r.visitId
            || case when x.part > 1 then '.' || x.part::varchar else '' end as visit_key
    from raw.ga_sessions as r
    left join repeated_rows as x using (_source_file, _line_no)
    where r.visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and r.visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
      and coalesce(x.copy, 1) = 1
),

-- each nested record is parsed once per visit, into only the fields stage maps; numbers may
-- arrive as JSON strings (BigQuery writes INT64 so) and are cast
hits as not materialized (
    select
        visit_key,
        fullVisitorId as visitor_id,
        userId as user_custom_id,
        visitStartTime,
        try_cast(totals ->> '$.visits' as double) = 1 as is_session,
        from_json(
            trafficSource,
            '{"source": "VARCHAR", "medium": "VARCHAR", "campaign": "VARCHAR",
              "adContent": "VARCHAR"}'
        ) as traffic,
        from_json(
            device,
            '{"deviceCategory": "VARCHAR", "isMobile": "BOOLEAN", "operatingSystem": "VARCHAR",
              "browser": "VARCHAR", "language": "VARCHAR"}'
        ) as dev,
        from_json(geoNetwork, '{"country": "VARCHAR", "region": "VARCHAR"}') as geo,
        unnest(from_json(
            hits,
            '[{"hitNumber": "BIGINT", "time": "BIGINT", "type": "VARCHAR", "referer": "VARCHAR",
               "page": {"pagePath": "VARCHAR", "hostname": "VARCHAR"},
               "eCommerceAction": {"action_type": "VARCHAR"},
               "product": [{"productSKU": "VARCHAR", "isImpression": "BOOLEAN"}]}]'
        )) as hit,
        _source_file
    from visits
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
-- hits, which are then parsed once; a hit after the window lies after the last day anyway.
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

-- GA writes '(not set)' (and the public demo data 'not available in demo dataset') where it
-- has no value: null, like the other formats
cleaned as (
    select
        *,
        case
            when traffic.source in ('(direct)', '(not set)', '') then null else traffic.source
        end as utm_source,
        case
            when traffic.medium in ('(none)', '(not set)', '') then null else traffic.medium
        end as utm_medium,
        case
            when geo.country in ('(not set)', 'not available in demo dataset', '') then null
            else geo.country
        end as country_name,
        split_part(hit.page.pagePath, '?', 1) as page_path
    from dated
),

-- GA names countries; the lake keys them by ISO 3166 alpha-2 code (as the tracker does): the
-- common ones are mapped here, a country not listed keeps its name
countries(country_name, code) as (
    values
        ('United States', 'US'), ('United Kingdom', 'GB'), ('Canada', 'CA'),
        ('Australia', 'AU'), ('New Zealand', 'NZ'), ('Ireland', 'IE'), ('India', 'IN'),
        ('Germany', 'DE'), ('France', 'FR'), ('Spain', 'ES'), ('Italy', 'IT'),
        ('Netherlands', 'NL'), ('Belgium', 'BE'), ('Switzerland', 'CH'), ('Austria', 'AT'),
        ('Sweden', 'SE'), ('Norway', 'NO'), ('Denmark', 'DK'), ('Finland', 'FI'),
        ('Poland', 'PL'), ('Czechia', 'CZ'), ('Portugal', 'PT'), ('Greece', 'GR'),
        ('Romania', 'RO'), ('Hungary', 'HU'), ('Ukraine', 'UA'), ('Russia', 'RU'),
        ('Turkey', 'TR'), ('Israel', 'IL'), ('Saudi Arabia', 'SA'),
        ('United Arab Emirates', 'AE'), ('Egypt', 'EG'), ('South Africa', 'ZA'),
        ('Nigeria', 'NG'), ('Kenya', 'KE'), ('Japan', 'JP'), ('South Korea', 'KR'),
        ('China', 'CN'), ('Hong Kong', 'HK'), ('Taiwan', 'TW'), ('Singapore', 'SG'),
        ('Malaysia', 'MY'), ('Thailand', 'TH'), ('Vietnam', 'VN'), ('Indonesia', 'ID'),
        ('Philippines', 'PH'), ('Pakistan', 'PK'), ('Bangladesh', 'BD'), ('Brazil', 'BR'),
        ('Mexico', 'MX'), ('Argentina', 'AR'), ('Colombia', 'CO'), ('Chile', 'CL'),
        ('Peru', 'PE')
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
        -- traffic source (the visit's)
        nullif(c.hit.referer, '') as referer_url,
        case c.utm_medium when 'organic' then 'search' when 'referral' then 'referral' end
            as referer_medium,
        c.utm_source,
        c.utm_medium,
        case
            when c.traffic.campaign in ('(not set)', '') then null else c.traffic.campaign
        end as utm_campaign,
        case
            when c.traffic.adContent in ('(not set)', '') then null else c.traffic.adContent
        end as utm_content,
        -- device, browser, geo (the visit's)
        case
            when c.dev.deviceCategory in ('(not set)', '') then null else c.dev.deviceCategory
        end as device_type,
        coalesce(c.dev.isMobile, c.dev.deviceCategory in ('mobile', 'tablet')) as device_is_mobile,
        case
            when c.dev.operatingSystem in ('(not set)', '') then null else c.dev.operatingSystem
        end as os_name,
        case when c.dev.browser in ('(not set)', '') then null else c.dev.browser end
            as browser_name,
        case when c.dev.language in ('(not set)', '') then null else c.dev.language end
            as browser_language,
        coalesce(k.code, c.country_name) as geo_country,
        case
            when c.geo.region in ('(not set)', 'not available in demo dataset', '') then null
            else c.geo.region
        end as geo_region,
        -- lineage
        c._source_file as source_file
    from cleaned as c
    left join path_rules as r on r.page_path is not distinct from c.page_path
    left join countries as k using (country_name)
)

select * from final
