-- temp.ga360_visits (the unit's private model): one row per visit of the GA360 export whose
-- hits may fall on the days being built, deduplicated and keyed, with its nested records
-- parsed: events.sql, orders.sql, order_items.sql and sessions.sql read it, so the export's
-- JSON is parsed once per stage build, not once per model.
-- The visit key is fullVisitorId + visitId (visitId is unique only per visitor). A line loaded
-- twice keeps the copy that arrived first. is_session: totals.visits is 1 (a row whose
-- totals.visits is not 1 holds only non-interactive hits and is no session for Google). Traffic
-- source, device and geo are the visit's (GA records them once per visit), cleaned here once
-- per visit.

with

-- a reporting day lies within [day - 1, day + 2) in UTC whatever the reporting time zone, and
-- a visit starts before its hits and lasts less than a day (GA ends visits at the property's
-- midnight): filtering on visitStartTime first lets DuckLake skip every data file outside the
-- window.
keys as not materialized (
    select fullVisitorId, visitId, visitStartTime, date, _source_file, _line_no, _loaded_at,
        _batch_id
    from raw.ga_sessions
    where visitStartTime >= epoch(($first_day::date - 1)::timestamp)::bigint
      and visitStartTime < epoch(($last_day::date + 2)::timestamp)::bigint
),

-- A visit key with several rows holds copies of a line loaded twice (same visitStartTime and
-- date: the copy that arrived first is kept) or the parts of a visit GA split at the property's
-- midnight (same visitId, another visitStartTime or date: each is a session of its own, the
-- later parts keyed '.2', '.3'). Such keys are few: a count over the keys alone finds them,
-- only their rows are ordered, and the visits' (large) nested columns are read once, below.
-- when each loaded file arrived (ops.landed_files.landed_at, by its source and load batch): of
-- a duplicated line, the copy that arrived first is kept, whatever its file is named
arrivals as (
    select l.source_uri as _source_file, l.batch_id as _batch_id, min(f.landed_at) as arrived_at
    from ops.load_ledger as l
    inner join ops.landed_files as f using (landing_uri)
    group by all
),

repeated_keys as (
    select fullVisitorId, visitId from keys group by all having count(*) > 1
),

repeated_rows as (
    select
        k._source_file,
        k._line_no,
        row_number() over (
            partition by k.fullVisitorId, k.visitId, k.visitStartTime, k.date
            order by a.arrived_at, k._loaded_at, k._source_file, k._line_no
        ) as copy,
        dense_rank() over (
            partition by k.fullVisitorId, k.visitId order by k.visitStartTime, k.date
        ) as part
    from keys as k
    semi join repeated_keys using (fullVisitorId, visitId)
    left join arrivals as a using (_source_file, _batch_id)
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

-- each nested record is parsed once, into only the fields stage maps (the hits' fields are
-- those of events, orders and order items together); numbers may arrive as JSON strings
-- (BigQuery writes INT64 so) and are cast
parsed as (
    select
        visit_key,
        fullVisitorId as visitor_id,
        userId as user_custom_id,
        visitStartTime,
        from_json(
            totals,
            '{"visits": "DOUBLE", "pageviews": "BIGINT", "timeOnSite": "BIGINT",
              "bounces": "BIGINT", "newVisits": "BIGINT", "transactions": "BIGINT",
              "totalTransactionRevenue": "BIGINT", "transactionRevenue": "BIGINT"}'
        ) as totals,
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
        from_json(
            hits,
            '[{"hitNumber": "BIGINT", "time": "BIGINT", "type": "VARCHAR", "referer": "VARCHAR",
               "page": {"pagePath": "VARCHAR", "hostname": "VARCHAR"},
               "eCommerceAction": {"action_type": "VARCHAR"},
               "transaction": {"transactionId": "VARCHAR", "transactionRevenue": "BIGINT",
                               "currencyCode": "VARCHAR"},
               "product": [{"productSKU": "VARCHAR", "v2ProductName": "VARCHAR",
                            "v2ProductCategory": "VARCHAR", "productPrice": "BIGINT",
                            "productQuantity": "BIGINT", "isImpression": "BOOLEAN"}]}]'
        ) as hits,
        _source_file
    from visits
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
        end as country_name
    from parsed
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

final as (
    select
        -- ids
        c.visit_key,
        c.visitor_id,
        c.user_custom_id,
        -- the visit's start, POSIX seconds (a hit's time is milliseconds after it)
        c.visitStartTime,
        c.totals.visits = 1 as is_session,
        c.totals,
        -- traffic source
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
        -- device, browser, geo
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
        -- the hits, in export order
        c.hits,
        -- lineage
        c._source_file as source_file
    from cleaned as c
    left join countries as k using (country_name)
)

select * from final
