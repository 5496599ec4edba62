-- stage.events (ga4): one row per GA4 event, deduplicated, onto the conformed contract.
-- depends_on: stage.page_rules
-- GA4 gives an event no id: event_id is the md5 of the fields that identify it, so a line
-- loaded twice has its copies under one id and keeps the first-loaded one. The visit is
-- stream_id + user_pseudo_id + the ga_session_id parameter; an event that lacks either
-- (a consent-mode ping) is an event in no visit. Source, medium and campaign are the visit's
-- (its first event that carries them), never traffic_source, which is the user's first touch.
-- A visit is assumed to last less than a day.

with

days as (
    select unnest($days::date[]) as day
),

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is: filtering on the raw
-- microseconds first lets DuckLake skip every data file outside the window. The bounds are
-- computed from dates as UTC (timestamp, not timestamptz), whatever the session's time zone.
-- The export's event_date is the day in the property's time zone, not the reporting one.
ga4_utc as not materialized (
    select
        * exclude (event_date),
        event_timestamp // 60000000 as minute
    from raw.ga4_events
    where event_timestamp >= epoch_us(($first_day::date - 1)::timestamp)
      and event_timestamp < epoch_us(($last_day::date + 2)::timestamp)
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
        local_ts::date as event_date
    from ga4_utc as g
    inner join minute_offsets as o using (minute)
),

-- the visitors of the days (their visits may have begun the day before)
day_users as (
    select distinct user_pseudo_id
    from ga4_window
    where list_contains($days::date[], event_date) and user_pseudo_id is not null
),

-- event_params is a list of {key, value{string_value, int_value, float_value, double_value}}:
-- parsed once per event, every value read as its text (int_value arrives as a string or a
-- number, session_engaged as int 1 or string '1'). Only the events of the days are parsed,
-- and those of the same users around them (their visits may have begun the day before).
-- GA4 has no event id: event_id is the md5 of the fields that identify an event (the same
-- line loaded twice gives the same id; two events of one batch differ in batch_event_index or
-- in their params), for the days' events only.
params as not materialized (
    select
        *,
        list_contains($days::date[], event_date) as on_day,
        case when on_day then md5(concat(
            user_pseudo_id, '|', event_timestamp, '|', event_name, '|', stream_id, '|',
            event_bundle_sequence_id, '|', batch_event_index, '|', batch_page_id, '|',
            batch_ordering_id, '|', event_params
        )) end as event_id,
        list_transform(
            from_json(event_params, '[{"key": "VARCHAR", "value": {"string_value": "VARCHAR",
                "int_value": "VARCHAR", "float_value": "VARCHAR", "double_value": "VARCHAR"}}]'),
            lambda p: {
                'key': p.key,
                'value': coalesce(p.value.string_value, p.value.int_value,
                    p.value.double_value, p.value.float_value)
            }
        ) as params,
        json_extract_string(collected_traffic_source, [
            '$.manual_source', '$.manual_medium', '$.manual_campaign_name', '$.manual_content'
        ]) as collected,
        list_filter(params, lambda p: p.key = 'ga_session_id')[1].value as ga_session_id
    from ga4_window
    left join day_users as u using (user_pseudo_id)
    where list_contains($days::date[], event_date) or u.user_pseudo_id is not null
),

-- the visit key and the event's own traffic source: the source/medium/campaign/content
-- parameters, else the manually tagged ones GA collected (collected_traffic_source). Computed
-- once (materialized) and only what the rest needs: the wide JSON columns stay behind.
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
        list_filter(params, lambda p: p.key = 'page_location')[1].value as page_location,
        list_filter(params, lambda p: p.key = 'page_referrer')[1].value as page_referrer,
        {
            'source': coalesce(list_filter(params, lambda p: p.key = 'source')[1].value,
                collected[1]),
            'medium': coalesce(list_filter(params, lambda p: p.key = 'medium')[1].value,
                collected[2]),
            'campaign': coalesce(list_filter(params, lambda p: p.key = 'campaign')[1].value,
                collected[3]),
            'content': coalesce(list_filter(params, lambda p: p.key = 'content')[1].value,
                collected[4])
        } as traffic,
        -- device and geo fields, and the product added, of the days' events only
        case when on_day then json_extract_string(device, [
            '$.category', '$.operating_system', '$.web_info.browser', '$.browser', '$.language'
        ]) end as device_fields,
        case when on_day then json_extract_string(geo, ['$.country', '$.region']) end
            as geo_fields,
        case when on_day and event_name = 'add_to_cart'
            then json_extract_string(items, '$[0].item_id') end as product_id,
        _source_file,
        _loaded_at,
        _line_no
    from params
),

-- a visit's source is that of its first event that names a source or a medium; its referrer
-- is the landing page view's page_referrer (later ones are the shop's own pages). Events in
-- no visit make one null group that joins nothing: filtering them out here would have the
-- optimizer push that filter, and a second parse of event_params, below the materialized CTE.
visit_sources as (
    select
        session_id,
        arg_min(traffic, event_timestamp)
            filter (where traffic.source is not null or traffic.medium is not null) as traffic,
        arg_min(page_referrer, event_timestamp) filter (where event_name = 'page_view')
            as referer_url
    from keyed
    group by session_id
),

identified as not materialized (
    select * exclude (on_day) from keyed where on_day
),

-- Deduplication: a line loaded twice keeps its first-loaded copy. Keys with more than one copy
-- are few: they are found by a cheap count and only their rows are ordered.
ga4_dupes as (
    select event_id from identified group by event_id having count(*) > 1
),

ga4 as (
    select *
    from identified
    anti join ga4_dupes using (event_id)
    union all
    select *
    from identified
    semi join ga4_dupes using (event_id)
    qualify row_number() over (
        partition by event_id order by _loaded_at, _source_file, _line_no
    ) = 1
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
        select traffic from keyed where on_day and session_id is null
    )
),

-- GA4 gives a country's English name: the common ones become ISO 3166 alpha-2 codes like the
-- tracker's, any other keeps its name
countries (name, code) as (
    values
        ('United States', 'US'), ('United Kingdom', 'GB'), ('Germany', 'DE'),
        ('France', 'FR'), ('Netherlands', 'NL'), ('Spain', 'ES'), ('Italy', 'IT'),
        ('Canada', 'CA'), ('Australia', 'AU'), ('Brazil', 'BR'), ('Japan', 'JP'),
        ('India', 'IN'), ('Mexico', 'MX'), ('Ireland', 'IE'), ('Sweden', 'SE'),
        ('Norway', 'NO'), ('Denmark', 'DK'), ('Finland', 'FI'), ('Poland', 'PL'),
        ('Belgium', 'BE'), ('Switzerland', 'CH'), ('Austria', 'AT'), ('Portugal', 'PT'),
        ('Czechia', 'CZ'), ('Greece', 'GR'), ('Romania', 'RO'), ('Hungary', 'HU'),
        ('Ukraine', 'UA'), ('Turkey', 'TR'), ('Türkiye', 'TR'), ('Russia', 'RU'),
        ('Israel', 'IL'), ('United Arab Emirates', 'AE'), ('Saudi Arabia', 'SA'),
        ('Egypt', 'EG'), ('South Africa', 'ZA'), ('Nigeria', 'NG'), ('Kenya', 'KE'),
        ('China', 'CN'), ('Hong Kong', 'HK'), ('Taiwan', 'TW'), ('South Korea', 'KR'),
        ('Singapore', 'SG'), ('Malaysia', 'MY'), ('Indonesia', 'ID'), ('Thailand', 'TH'),
        ('Vietnam', 'VN'), ('Philippines', 'PH'), ('Pakistan', 'PK'), ('Bangladesh', 'BD'),
        ('New Zealand', 'NZ'), ('Argentina', 'AR'), ('Chile', 'CL'), ('Colombia', 'CO'),
        ('Peru', 'PE')
),

-- a page's path is its URL without scheme, host, query string and fragment; each distinct
-- URL is parsed once, not every event
pages as (
    select
        page_location,
        coalesce(nullif(regexp_extract(
            page_location, '^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)', 1
        ), ''), '/') as page_path
    from (select distinct page_location from keyed where on_day and page_location is not null)
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
        coalesce(c.code, nullif(nullif(m.geo_fields[1], ''), '(not set)')) as geo_country,
        nullif(nullif(m.geo_fields[2], ''), '(not set)') as geo_region,
        m._source_file as source_file
    from sourced as m
    left join traffic_mapped as t on t.traffic is not distinct from m.visit_traffic
    left join pages as p on p.page_location = m.page_location
    left join path_rules as r on r.page_path = p.page_path
    left join countries as c on c.name = m.geo_fields[1]
)

select * from final
