-- stage.events (tracker): one row per event: the four tracker streams deduplicated and joined.
-- depends_on: stage.page_rules
-- A duplicated line keeps the copy that arrived first (ops.landed_files.landed_at), never the
-- one whose file name sorts first. A tracker files an event under its own hour or a later one
-- (late files), never two days earlier: location, device and geo rows are read from source
-- folders from two days before the first day on, so old files are skipped. Device and geo are
-- recorded once per visit and joined on click_id; the page path is classified by
-- stage.page_rules.

with

days as (
    select unnest($days::date[]) as day
),

-- a reporting day lies within [day - 1, day + 2) in UTC whatever $tz is: filtering on the raw
-- timestamp first lets DuckLake skip every data file outside the window
-- only the columns stage keeps (user agents are long)
browser_utc as not materialized (
    select
        event_id,
        event_timestamp,
        event_type,
        click_id,
        browser_name,
        browser_language,
        _source_file,
        _line_no,
        _loaded_at,
        _batch_id,
        floor(epoch_ms(event_timestamp) / 60000)::bigint as minute
    from raw.browser_events
    where event_timestamp >= ($first_day::date - 1)::timestamptz
      and event_timestamp < ($last_day::date + 2)::timestamptz
),

-- the reporting time zone's offset for each distinct minute: converting each event to $tz
-- costs more than the rest of its row, and every time zone has kept whole-minute offsets
-- for a century (see affected_days.sql)
minute_offsets as (
    select
        minute,
        (to_timestamp(minute * 60) at time zone $tz) - make_timestamp(minute * 60000000)
            as utc_offset
    from (select distinct minute from browser_utc)
),

browser_window as not materialized (
    select
        b.* exclude (minute),
        make_timestamp(epoch_us(b.event_timestamp)) + o.utc_offset as local_ts,
        local_ts::date as event_date
    from browser_utc as b
    inner join minute_offsets as o using (minute)
),

-- when each loaded file arrived (ops.landed_files.landed_at, by its source and load batch): of
-- a duplicated line, the copy that arrived first is kept, whatever its file is named
arrivals as (
    select l.source_uri as _source_file, l.batch_id as _batch_id, min(f.landed_at) as arrived_at
    from ops.load_ledger as l
    inner join ops.landed_files as f using (landing_uri)
    group by all
),

-- Deduplication: a line loaded twice keeps the copy that arrived first. Ordering every key's copies
-- (a window over all rows) is the cost of this model, yet keys with more than one copy are
-- few: they are found by a cheap count and only their rows are ordered, the rest pass as
-- they are. A duplicated browser line has the same timestamp, so its copies share a window.
browser_dupes as (
    select event_id from browser_window group by event_id having count(*) > 1
),

browser as (
    select *
    from browser_window
    anti join browser_dupes using (event_id)
    where event_date in (select day from days)
    union all
    select b.*
    from browser_window as b
    semi join browser_dupes using (event_id)
    left join arrivals as a using (_source_file, _batch_id)
    qualify row_number() over (
        partition by event_id order by a.arrived_at, b._loaded_at, b._source_file, b._line_no
    ) = 1
),

location_all as not materialized (
    select
        event_id, page_url, page_url_path, referer_url, referer_medium,
        utm_source, utm_medium, utm_campaign, utm_content,
        _loaded_at, _source_file, _line_no, _batch_id
    from raw.location_events
    where _source_date >= $first_day::date - 2
),

location_dupes as (
    select event_id from location_all group by event_id having count(*) > 1
),

location as (
    select * exclude (_loaded_at, _source_file, _line_no, _batch_id)
    from location_all
    anti join location_dupes using (event_id)
    union all
    select r.* exclude (_loaded_at, _source_file, _line_no, _batch_id)
    from location_all as r
    semi join location_dupes using (event_id)
    left join arrivals as a using (_source_file, _batch_id)
    qualify row_number() over (
        partition by event_id order by a.arrived_at, r._loaded_at, r._source_file, r._line_no
    ) = 1
),

device_all as not materialized (
    select
        click_id, user_domain_id, user_custom_id, device_type, device_is_mobile, os_name,
        _loaded_at, _source_file, _line_no, _batch_id
    from raw.device_events
    where _source_date >= $first_day::date - 2
),

device_dupes as (
    select click_id from device_all group by click_id having count(*) > 1
),

device as (
    select * exclude (_loaded_at, _source_file, _line_no, _batch_id)
    from device_all
    anti join device_dupes using (click_id)
    union all
    select r.* exclude (_loaded_at, _source_file, _line_no, _batch_id)
    from device_all as r
    semi join device_dupes using (click_id)
    left join arrivals as a using (_source_file, _batch_id)
    qualify row_number() over (
        partition by click_id order by a.arrived_at, r._loaded_at, r._source_file, r._line_no
    ) = 1
),

geo_all as not materialized (
    select click_id, geo_country, geo_region_name, _loaded_at, _source_file, _line_no, _batch_id
    from raw.geo_events
    where _source_date >= $first_day::date - 2
),

geo_dupes as (
    select click_id from geo_all group by click_id having count(*) > 1
),

geo as (
    select * exclude (_loaded_at, _source_file, _line_no, _batch_id)
    from geo_all
    anti join geo_dupes using (click_id)
    union all
    select r.* exclude (_loaded_at, _source_file, _line_no, _batch_id)
    from geo_all as r
    semi join geo_dupes using (click_id)
    left join arrivals as a using (_source_file, _batch_id)
    qualify row_number() over (
        partition by click_id order by a.arrived_at, r._loaded_at, r._source_file, r._line_no
    ) = 1
),

joined as (
    select
        b.event_id,
        b.event_timestamp as event_ts,
        b.event_date,
        date_trunc('hour', b.local_ts) as event_hour,
        b.event_type,
        b.event_type = 'pageview' as is_pageview,
        b.click_id as session_id,
        d.user_domain_id as visitor_id,
        d.user_custom_id,
        l.page_url,
        l.page_url_path as page_path,
        l.referer_url,
        l.referer_medium,
        l.utm_source,
        l.utm_medium,
        l.utm_campaign,
        l.utm_content,
        d.device_type,
        d.device_is_mobile,
        d.os_name,
        b.browser_name,
        b.browser_language,
        g.geo_country,
        g.geo_region_name as geo_region,
        b._source_file as source_file
    from browser as b
    left join location as l using (event_id)
    left join device as d on d.click_id = b.click_id
    left join geo as g on g.click_id = b.click_id
    where b.event_date between $first_day::date and $last_day::date
      and b.event_date in (select day from days)
),

-- the rules are regular expressions: match each distinct path once, not every event
paths as (
    select distinct page_path from joined
),

path_rules as (
    select
        p.page_path,
        r.page_type,
        r.funnel_step,
        r.ecommerce_action,
        case
            when r.ecommerce_action = 'add_to_cart'
                then nullif(regexp_extract(p.page_path, r.pattern, 1), '')
        end as cart_product_id
    from paths as p
    left join stage.page_rules as r on regexp_matches(coalesce(p.page_path, ''), r.pattern)
    qualify row_number() over (partition by p.page_path order by r.priority) = 1
),

classified as (
    select
        j.*,
        r.page_type,
        r.funnel_step,
        r.ecommerce_action,
        r.cart_product_id
    from joined as j
    left join path_rules as r on r.page_path is not distinct from j.page_path
),

final as (
    select
        event_id,
        event_ts,
        event_date,
        event_hour,
        event_type,
        is_pageview,
        session_id,
        visitor_id,
        user_custom_id,
        page_url,
        page_path,
        page_type,
        case when is_pageview then funnel_step end as funnel_step,
        case when is_pageview then ecommerce_action end as ecommerce_action,
        case when is_pageview then cart_product_id end as product_id,
        referer_url,
        referer_medium,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        device_type,
        device_is_mobile,
        os_name,
        browser_name,
        browser_language,
        geo_country,
        geo_region,
        source_file
    from classified
)

select * from final
