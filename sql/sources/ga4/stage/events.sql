-- stage.events (ga4): one row per GA4 event, deduplicated, onto the conformed contract.
-- depends_on: stage.page_rules, temp.ga4_events
-- The events, their ids, visits and parameters are temp.ga4_events' (_events.sql): a line
-- loaded twice is one event (the copy that arrived first); an event without user_pseudo_id or
-- ga_session_id (a consent-mode ping) is an event in no visit. Source, medium and campaign are
-- the visit's (its first event that carries them), never traffic_source, which is the user's
-- first touch. A visit is assumed to last less than a day.

with

-- a visit's source is that of its first event that names a source or a medium; its referrer
-- is the landing page view's page_referrer (later ones are the shop's own pages). Events in
-- no visit make one null group that joins nothing.
visit_sources as (
    select
        session_id,
        arg_min(traffic, event_timestamp)
            filter (where traffic.source is not null or traffic.medium is not null) as traffic,
        arg_min(page_referrer, event_timestamp) filter (where event_name = 'page_view')
            as referer_url
    from ga4_events
    group by session_id
),

-- the days' events, each once (temp.ga4_events keeps a line loaded twice once)
ga4 as not materialized (
    select * from ga4_events where on_day
),

-- an event in no visit keeps its own traffic source and referrer
sourced as (
    select
        g.*,
        case when g.session_id is null then g.traffic else v.traffic end as visit_traffic,
        case when g.session_id is null then g.page_referrer else v.referer_url end
            as referer_url
    from ga4 as g
    left join visit_sources as v on v.session_id = g.session_id
),

-- Each distinct traffic source is mapped once, as the GA360 unit maps trafficSource: GA's
-- source / medium / campaign / content are the utm_* columns, and GA's placeholders for "no
-- value" are null: '(direct)' / '(none)' is direct (all null, as an untagged tracker visit),
-- '(not set)', and the campaigns GA4 names after the channel ('(organic)', '(referral)',
-- '(direct)'). An organic or referral visit keeps its source (google, the referring host) and
-- says so in referer_medium ('search', 'referral'), the tracker's referrer media.
traffic_mapped as (
    select
        traffic,
        case when traffic.source not in ('', '(direct)', '(not set)', '(none)')
            then traffic.source end as utm_source,
        case when traffic.medium not in ('', '(none)', '(not set)')
            then traffic.medium end as utm_medium,
        case when traffic.campaign not in (
            '', '(not set)', '(none)', '(direct)', '(organic)', '(referral)', '(data deleted)'
        ) then traffic.campaign end as utm_campaign,
        case when traffic.content not in ('', '(not set)', '(none)')
            then traffic.content end as utm_content,
        case lower(traffic.medium)
            when 'organic' then 'search'
            when 'referral' then 'referral'
        end as referer_medium
    from (
        select traffic from visit_sources where session_id is not null
        union
        select traffic from ga4 where session_id is null
    )
),

-- GA4 gives a country's English name: the common ones become ISO 3166 alpha-2 codes like the
-- tracker's, any other keeps its name. A constant map looked up per event, not a join to a
-- list of names, for which the planner built its hash table on the million events (4 CPU-s).
located as not materialized (
    select
        *,
        coalesce(map {
            'United States': 'US', 'United Kingdom': 'GB', 'Germany': 'DE', 'France': 'FR',
            'Netherlands': 'NL', 'Spain': 'ES', 'Italy': 'IT', 'Canada': 'CA', 'Australia': 'AU',
            'Brazil': 'BR', 'Japan': 'JP', 'India': 'IN', 'Mexico': 'MX', 'Ireland': 'IE',
            'Sweden': 'SE', 'Norway': 'NO', 'Denmark': 'DK', 'Finland': 'FI', 'Poland': 'PL',
            'Belgium': 'BE', 'Switzerland': 'CH', 'Austria': 'AT', 'Portugal': 'PT',
            'Czechia': 'CZ', 'Greece': 'GR', 'Romania': 'RO', 'Hungary': 'HU', 'Ukraine': 'UA',
            'Turkey': 'TR', 'Türkiye': 'TR', 'Russia': 'RU', 'Israel': 'IL',
            'United Arab Emirates': 'AE', 'Saudi Arabia': 'SA', 'Egypt': 'EG',
            'South Africa': 'ZA', 'Nigeria': 'NG', 'Kenya': 'KE', 'China': 'CN', 'Hong Kong': 'HK',
            'Taiwan': 'TW', 'South Korea': 'KR', 'Singapore': 'SG', 'Malaysia': 'MY',
            'Indonesia': 'ID', 'Thailand': 'TH', 'Vietnam': 'VN', 'Philippines': 'PH',
            'Pakistan': 'PK', 'Bangladesh': 'BD', 'New Zealand': 'NZ', 'Argentina': 'AR',
            'Chile': 'CL', 'Colombia': 'CO', 'Peru': 'PE'
        }[geo_fields[1]], nullif(nullif(geo_fields[1], ''), '(not set)')) as geo_country
    from sourced
),

-- a page's path is its URL without scheme, host, query string and fragment; each distinct
-- URL is parsed once, not every event
pages as (
    select
        page_location,
        coalesce(nullif(regexp_extract(
            page_location, '^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)', 1
        ), ''), '/') as page_path
    from (select distinct page_location from ga4 where page_location is not null)
),

-- the rules are regular expressions: match each distinct path once, not every event
path_rules as (
    select
        p.page_path,
        r.page_type,
        r.funnel_step
    from (select distinct page_path from pages) as p
    left join stage.page_rules as r on regexp_matches(p.page_path, r.pattern)
    qualify row_number() over (partition by p.page_path order by r.priority) = 1
),

final as (
    select
        m.event_id,
        make_timestamptz(m.event_timestamp) as event_ts,
        m.event_date,
        date_trunc('hour', m.local_ts) as event_hour,
        m.event_name as event_type,
        m.event_name = 'page_view' as is_pageview,
        m.session_id,
        m.user_pseudo_id as visitor_id,
        m.user_id as user_custom_id,
        m.page_location as page_url,
        p.page_path,
        r.page_type,
        case when m.event_name = 'page_view' then r.funnel_step end as funnel_step,
        case when m.event_name in ('add_to_cart', 'purchase') then m.event_name end
            as ecommerce_action,
        m.product_id,
        m.referer_url,
        t.referer_medium,
        t.utm_source,
        t.utm_medium,
        t.utm_campaign,
        t.utm_content,
        nullif(lower(m.device_fields[1]), '(not set)') as device_type,
        lower(m.device_fields[1]) = 'mobile' as device_is_mobile,
        nullif(m.device_fields[2], '(not set)') as os_name,
        nullif(coalesce(m.device_fields[3], m.device_fields[4]), '(not set)') as browser_name,
        nullif(m.device_fields[5], '(not set)') as browser_language,
        m.geo_country,
        nullif(nullif(m.geo_fields[2], ''), '(not set)') as geo_region,
        m._source_file as source_file
    from located as m
    left join traffic_mapped as t on t.traffic is not distinct from m.visit_traffic
    left join pages as p on p.page_location = m.page_location
    left join path_rules as r on r.page_path = p.page_path
)

select * from final
