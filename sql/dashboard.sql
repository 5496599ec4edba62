-- Every query the Streamlit dashboard runs, one section per function of clicklake/dashboard.py.
-- The text is constant: filter values are bound as parameters ($start, $end, $sources, $devices,
-- $countries, ...), and an empty list means "all". A mart without a dimension ignores that
-- filter. Sessions count on the day they start, orders and revenue on the day they are paid.

-- query: date_bounds
select min(date) as first_day, max(date) as last_day
from mart.daily_kpis

-- query: filter_options
select
    list(distinct utm_source order by utm_source) filter (where utm_source is not null)
        as sources,
    list(distinct device_type order by device_type) filter (where device_type is not null)
        as devices,
    list(distinct geo_country order by geo_country) filter (where geo_country is not null)
        as countries,
from mart.hourly_traffic

-- query: campaign_and_product_options
-- the filters only the acquisition and product marts have; a product's latest name, so the
-- sidebar can say which product an id is
select
    (select list(distinct utm_medium order by utm_medium) from mart.acquisition_daily
     where utm_medium is not null) as mediums,
    (select list(distinct utm_campaign order by utm_campaign) from mart.acquisition_daily
     where utm_campaign is not null) as campaigns,
    (select map(list(product_id order by product_id), list(product_name order by product_id))
     from (select product_id, arg_max(product_name, date) as product_name
           from mart.product_performance_daily group by product_id)) as product_names,

-- query: kpis
-- stage.sessions, like the marts, must show a missing source, device or country as a value
with

traffic as (
    select
        sum(sessions)::bigint as sessions,
        sum(orders)::bigint as orders,
        sum(revenue) as revenue,
    from mart.hourly_traffic
    where date between $start and $end
      and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
      and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
      and (len($countries::varchar[]) = 0 or list_contains($countries::varchar[], geo_country))
),

-- visitors do not add up over days or segments: count them distinct, from the visits
visitors as (
    select count(distinct visitor_id) as visitors
    from stage.sessions
    where session_date between $start and $end
      and (len($sources::varchar[]) = 0
           or list_contains($sources::varchar[], coalesce(utm_source, '(none)')))
      and (len($devices::varchar[]) = 0
           or list_contains($devices::varchar[], coalesce(device_type, '(unknown)')))
      and (len($countries::varchar[]) = 0
           or list_contains($countries::varchar[], coalesce(geo_country, '(unknown)')))
)

select
    v.visitors,
    coalesce(t.sessions, 0) as sessions,
    coalesce(t.orders, 0) as orders,
    coalesce(t.revenue, 0) as revenue,
    t.orders / nullif(t.sessions, 0) as conversion_rate,
    t.revenue / nullif(t.orders, 0) as avg_order_value,
from traffic as t, visitors as v

-- query: daily_trend
select
    date,
    sum(sessions)::bigint as sessions,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
    sum(orders) / nullif(sum(sessions), 0) as conversion_rate,
from mart.hourly_traffic
where date between $start and $end
  and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
  and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
  and (len($countries::varchar[]) = 0 or list_contains($countries::varchar[], geo_country))
group by date
order by date

-- query: hourly_trend
select
    hour,
    sum(sessions)::bigint as sessions,
    sum(pageviews)::bigint as pageviews,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
from mart.hourly_traffic
where date between $start and $end
  and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
  and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
  and (len($countries::varchar[]) = 0 or list_contains($countries::varchar[], geo_country))
group by hour
order by hour

-- query: daily_kpis
select
    date, visitors, sessions, pageviews, orders, revenue, conversion_rate, avg_order_value,
    bounce_rate,
from mart.daily_kpis
where date between $start and $end
order by date desc

-- query: funnel
with

steps as (
    select step, step_order, sum(sessions)::bigint as sessions
    from mart.funnel_daily
    where date between $start and $end
      and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
      and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
    group by all
)

select
    step,
    step_order,
    sessions,
    coalesce(sessions / nullif(lag(sessions) over (order by step_order), 0), 1)
        as step_conversion,
    sessions / nullif(first(sessions) over (order by step_order), 0) as overall_conversion,
from steps
order by step_order

-- query: funnel_by
-- $by is 'source' or 'device': the segment column is chosen by a bound value
with

steps as (
    select
        case $by when 'device' then device_type else utm_source end as segment,
        step,
        step_order,
        sum(sessions)::bigint as sessions,
    from mart.funnel_daily
    where date between $start and $end
      and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
      and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
    group by all
)

select
    segment,
    step,
    step_order,
    sessions,
    coalesce(sessions / nullif(lag(sessions) over w, 0), 1) as step_conversion,
    sessions / nullif(first(sessions) over w, 0) as overall_conversion,
from steps
window w as (partition by segment order by step_order)
order by segment, step_order

-- query: acquisition
select
    utm_source,
    utm_medium,
    utm_campaign,
    sum(sessions)::bigint as sessions,
    sum(bounces) / nullif(sum(sessions), 0) as bounce_rate,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
    sum(orders) / nullif(sum(sessions), 0) as conversion_rate,
from mart.acquisition_daily
where date between $start and $end
  and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
  and (len($mediums::varchar[]) = 0 or list_contains($mediums::varchar[], utm_medium))
  and (len($campaigns::varchar[]) = 0 or list_contains($campaigns::varchar[], utm_campaign))
group by all
order by sessions desc, utm_source, utm_medium nulls first, utm_campaign nulls first

-- query: attribution
select
    utm_source,
    utm_medium,
    utm_campaign,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
    sum(revenue) / nullif(sum(sum(revenue)) over (), 0) as revenue_share,
from mart.attribution
where date between $start and $end
  and model = $model
  and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
  and (len($mediums::varchar[]) = 0 or list_contains($mediums::varchar[], utm_medium))
  and (len($campaigns::varchar[]) = 0 or list_contains($campaigns::varchar[], utm_campaign))
group by all
order by revenue desc, utm_source, utm_medium nulls first, utm_campaign nulls first

-- query: attribution_by_model
select
    utm_source,
    coalesce(sum(revenue) filter (where model = 'first_touch'), 0) as first_touch,
    coalesce(sum(revenue) filter (where model = 'last_non_direct'), 0) as last_non_direct,
from mart.attribution
where date between $start and $end
  and (len($sources::varchar[]) = 0 or list_contains($sources::varchar[], utm_source))
  and (len($mediums::varchar[]) = 0 or list_contains($mediums::varchar[], utm_medium))
  and (len($campaigns::varchar[]) = 0 or list_contains($campaigns::varchar[], utm_campaign))
group by utm_source
order by first_touch + last_non_direct desc, utm_source

-- query: top_products
select
    product_id,
    any_value(product_name) as product_name,
    any_value(category) as category,
    arg_max(price, date) as price,
    sum(add_to_carts)::bigint as add_to_carts,
    sum(orders)::bigint as orders,
    sum(units)::bigint as units,
    sum(revenue) as revenue,
    sum(units) / nullif(sum(add_to_carts), 0) as cart_to_purchase,
from mart.product_performance_daily
where date between $start and $end
  and (len($products::varchar[]) = 0 or list_contains($products::varchar[], product_id))
group by product_id
order by revenue desc, units desc, product_id
limit $limit

-- query: categories
select
    category,
    count(distinct product_id) as products,
    sum(add_to_carts)::bigint as add_to_carts,
    sum(orders)::bigint as orders,
    sum(units)::bigint as units,
    sum(revenue) as revenue,
    sum(units) / nullif(sum(add_to_carts), 0) as cart_to_purchase,
from mart.product_performance_daily
where date between $start and $end
  and (len($products::varchar[]) = 0 or list_contains($products::varchar[], product_id))
group by category
order by revenue desc, category

-- query: price_bands
select
    price_band,
    min(price) as min_price,
    max(price) as max_price,
    count(distinct product_id) as products,
    sum(add_to_carts)::bigint as add_to_carts,
    sum(units)::bigint as units,
    sum(revenue) as revenue,
    sum(units) / nullif(sum(add_to_carts), 0) as cart_to_purchase,
from mart.product_performance_daily
where date between $start and $end
  and (len($products::varchar[]) = 0 or list_contains($products::varchar[], product_id))
group by price_band
order by min_price

-- query: audience_by
-- $dimension is 'country', 'device', 'os' or 'browser'
select
    coalesce(
        case $dimension
            when 'country' then geo_country
            when 'device' then device_type
            when 'os' then os_name
            when 'browser' then browser_name
        end,
        '(unknown)'
    ) as value,
    sum(sessions)::bigint as sessions,
    sum(bounces) / nullif(sum(sessions), 0) as bounce_rate,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
    sum(orders) / nullif(sum(sessions), 0) as conversion_rate,
from mart.audience_daily
where date between $start and $end
  and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
  and (len($countries::varchar[]) = 0 or list_contains($countries::varchar[], geo_country))
group by all
order by sessions desc, value

-- query: regions
select
    coalesce(geo_country, '(unknown)') as geo_country,
    coalesce(geo_region, '(unknown)') as geo_region,
    sum(sessions)::bigint as sessions,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
    sum(orders) / nullif(sum(sessions), 0) as conversion_rate,
from mart.audience_daily
where date between $start and $end
  and (len($devices::varchar[]) = 0 or list_contains($devices::varchar[], device_type))
  and (len($countries::varchar[]) = 0 or list_contains($countries::varchar[], geo_country))
group by all
order by sessions desc, geo_country, geo_region

-- query: pages
-- $order is 'pageviews', 'entrances' (entry pages) or 'exits' (exit pages)
select
    page_path,
    any_value(page_type) as page_type,
    sum(pageviews)::bigint as pageviews,
    sum(entrances)::bigint as entrances,
    sum(exits)::bigint as exits,
    sum(exits) / nullif(sum(pageviews), 0) as exit_rate,
from mart.pages_daily
where date between $start and $end
group by page_path
order by
    case $order
        when 'entrances' then sum(entrances)
        when 'exits' then sum(exits)
        else sum(pageviews)
    end desc,
    page_path
limit $limit

-- query: paths
-- $converted_only: only the paths of visits that paid an order
select
    path,
    sum(sessions)::bigint as sessions,
    coalesce(sum(sessions) filter (where converted), 0)::bigint as converted_sessions,
    coalesce(sum(sessions) filter (where converted), 0) / sum(sessions) as conversion_rate,
    sum(orders)::bigint as orders,
    sum(revenue) as revenue,
    sum(sessions) / sum(sum(sessions)) over () as share,
from mart.session_paths
where date between $start and $end
  and (not $converted_only or converted)
group by path
order by sessions desc, path
limit $limit

-- query: path_page_types
-- Where converting and other visits differ: per page type, the share of the converting visits
-- and of the other visits whose path (its first six steps) passes through it. A whole path
-- never matches across the two (a converting one ends in checkout > confirmation).
with

paths as (
    select
        converted,
        sessions,
        list_distinct(list_filter(string_split(path, ' > '), t -> t <> '...')) as page_types,
    from mart.session_paths
    where date between $start and $end
),

totals as (
    select
        sum(sessions) filter (where converted) as converting,
        sum(sessions) filter (where not converted) as other,
    from paths
),

reached as (
    select page_type, sessions, converted
    from paths, unnest(page_types) as t(page_type)
)

select
    r.page_type,
    sum(r.sessions)::bigint as sessions,
    coalesce(sum(r.sessions) filter (where r.converted), 0)::bigint as converted_sessions,
    coalesce(sum(r.sessions) filter (where r.converted), 0) / sum(r.sessions) as conversion_rate,
    coalesce(sum(r.sessions) filter (where r.converted), 0) / nullif(any_value(t.converting), 0)
        as share_of_converting,
    coalesce(sum(r.sessions) filter (where not r.converted), 0) / nullif(any_value(t.other), 0)
        as share_of_other,
from reached as r, totals as t
group by r.page_type
order by sessions desc, r.page_type

-- query: path_prefixes
-- How visits that start the same way convert: paths cut to their first $steps page types
select
    array_to_string(string_split(path, ' > ')[1:$steps], ' > ') as path_start,
    sum(sessions)::bigint as sessions,
    coalesce(sum(sessions) filter (where converted), 0)::bigint as converted_sessions,
    coalesce(sum(sessions) filter (where converted), 0) / sum(sessions) as conversion_rate,
    sum(sessions) / sum(sum(sessions)) over () as share,
from mart.session_paths
where date between $start and $end
group by path_start
order by sessions desc, path_start
limit $limit

-- query: session_lengths
with

buckets(bucket_order, bucket, upper_s) as (
    values (1, '0 s', 0), (2, '1-10 s', 10), (3, '11-30 s', 30), (4, '31-60 s', 60),
           (5, '1-3 min', 180), (6, '3-10 min', 600), (7, '10-30 min', 1800),
           (8, 'over 30 min', null)
),

sessions as (
    select duration_s
    from stage.sessions
    where session_date between $start and $end
      and (len($sources::varchar[]) = 0
           or list_contains($sources::varchar[], coalesce(utm_source, '(none)')))
      and (len($devices::varchar[]) = 0
           or list_contains($devices::varchar[], coalesce(device_type, '(unknown)')))
      and (len($countries::varchar[]) = 0
           or list_contains($countries::varchar[], coalesce(geo_country, '(unknown)')))
),

bucketed as (
    select
        case
            when duration_s <= 0 then 1
            when duration_s <= 10 then 2
            when duration_s <= 30 then 3
            when duration_s <= 60 then 4
            when duration_s <= 180 then 5
            when duration_s <= 600 then 6
            when duration_s <= 1800 then 7
            else 8
        end as bucket_order
    from sessions
)

select b.bucket_order, b.bucket, count(s.bucket_order) as sessions,
from buckets as b
left join bucketed as s using (bucket_order)
group by all
order by b.bucket_order

-- query: session_length_summary
select
    count(*) as sessions,
    median(duration_s) as median_s,
    avg(duration_s) as avg_s,
    quantile_cont(duration_s, 0.9) as p90_s,
from stage.sessions
where session_date between $start and $end
  and (len($sources::varchar[]) = 0
       or list_contains($sources::varchar[], coalesce(utm_source, '(none)')))
  and (len($devices::varchar[]) = 0
       or list_contains($devices::varchar[], coalesce(device_type, '(unknown)')))
  and (len($countries::varchar[]) = 0
       or list_contains($countries::varchar[], coalesce(geo_country, '(unknown)')))

-- query: cohorts
select cohort_week, week_number, cohort_visitors, active_visitors, retention,
from mart.cohort_retention_weekly
where cohort_week between date_trunc('week', $start::date) and $end
order by cohort_week, week_number

-- query: freshness
-- Per stream of the formats with data ($sources: the registry, clicklake.sources.as_json): its
-- newest events (the date=/hour= folder of the newest file it loaded rows from: those events'
-- hour, or day for a daily export), how old they are against the wall clock, its last load and
-- its last successful run. Judged by cadence, as checks.stream_freshness judges a run's hour:
-- an hourly stream is stale 3 h after its newest hour began, a daily export a day plus its
-- format's late-data window after its newest day began; a stream whose last successful run is
-- older than 3 h (hourly) or 27 h (daily) is late. Optional streams are shown, not judged.
-- `clicklake status` (sql/status.sql) shows this query's verdict.
with

streams as (
    select s.*
    from (
        select unnest(from_json($sources, '[{"format": "VARCHAR", "stream": "VARCHAR",
            "cadence": "VARCHAR", "late_hours": "INTEGER", "optional": "BOOLEAN"}]'),
            recursive := true)
    ) as s
),

ledger as (
    select
        stream,
        max(loaded_at) as last_loaded_at,
        count(*) as files,
        sum(rows_loaded)::bigint as rows_loaded,
        sum(rows_rejected)::bigint as rows_rejected,
        max(strptime(
            regexp_extract(source_uri, '/date=(\d{4}-\d{2}-\d{2})/', 1) || ' '
                || coalesce(nullif(regexp_extract(source_uri, '/hour=(\d{2})/', 1), ''), '00'),
            '%Y-%m-%d %H'
        )) filter (where rows_loaded > 0
                   and regexp_matches(source_uri, '/date=\d{4}-\d{2}-\d{2}/')) as newest,
    from ops.load_ledger
    group by stream
),

-- a run is successful when every step of it was; a skipped range (nothing new) counts for all
ok_runs as (
    select run_id, max(finished_at) as finished_at, bool_or(step = 'skipped') as skipped,
    from ops.runs
    group by run_id
    having bool_and(status = 'ok')
),

last_ok as (
    select s.stream, max(o.finished_at) as last_ok_run_at,
    from streams as s
    inner join ok_runs as o
        on o.skipped
        or exists (from ops.runs as r
                   where r.run_id = o.run_id and r.step = 'load' and r.target = s.stream)
    group by s.stream
),

judged as (
    select
        s.stream,
        s.format,
        s.cadence,
        s.optional,
        l.newest::timestamptz as newest_events,
        -- the end of the newest folder: the latest moment its events can have
        l.newest::timestamptz + if(s.cadence = 'daily', interval 1 day, interval 1 hour)
            as events_until,
        l.newest::timestamptz + if(s.cadence = 'daily', interval 1 day + to_hours(s.late_hours),
                                   interval 3 hour) as stale_after,
        o.last_ok_run_at + if(s.cadence = 'daily', interval 27 hour, interval 3 hour) as late_after,
        if(s.cadence = 'daily', 'daily, 1 day + ' || s.late_hours || ' h', 'hourly, 3 h')
            as expected,
        l.last_loaded_at,
        o.last_ok_run_at,
        coalesce(l.files, 0) as files,
        coalesce(l.rows_loaded, 0) as rows_loaded,
        coalesce(l.rows_rejected, 0) as rows_rejected,
    from streams as s
    left join ledger as l using (stream)
    left join last_ok as o using (stream)
    where s.format in (select s2.format from streams as s2 semi join ledger using (stream))
)

select
    stream,
    format,
    case
        when newest_events is null and optional then 'no data (optional)'
        when newest_events is null then 'no data'
        when optional then 'not judged (optional)'
        when now() > stale_after and (last_ok_run_at is null or now() > late_after)
            then 'stale, no recent run'
        when now() > stale_after then 'stale'
        when last_ok_run_at is null or now() > late_after then 'no recent run'
        else 'fresh'
    end as status,
    not optional and (newest_events is null or now() > stale_after
                      or last_ok_run_at is null or now() > late_after) as stale,
    newest_events,
    round(greatest(date_diff('second', events_until, now()), 0) / 3600, 1) as events_age_hours,
    expected,
    last_ok_run_at,
    last_loaded_at,
    date_diff('minute', last_loaded_at, now()) as minutes_ago,
    files,
    rows_loaded,
    rows_rejected,
from judged
order by format, stream

-- query: unread_streams
select
    target as folder,
    arg_max(rows, finished_at)::bigint as files,
    max(finished_at) as last_seen,
    arg_max(message, finished_at) as message,
from ops.runs
where step = 'unread'
group by target
order by folder

-- query: recent_runs
select
    run_id,
    min(started_at) as started_at,
    max(finished_at) as finished_at,
    case when bool_and(status = 'ok') then 'ok' else 'failed' end as status,
    coalesce(sum(rows) filter (where step = 'load'), 0)::bigint as rows_loaded,
    coalesce(sum(seconds) filter (where step = 'extract'), 0) as extract_s,
    coalesce(sum(seconds) filter (where step = 'load'), 0) as load_s,
    coalesce(sum(seconds) filter (where step = 'transform'), 0) as transform_s,
    coalesce(sum(seconds) filter (where step = 'checks'), 0) as checks_s,
    date_diff('millisecond', min(started_at), max(finished_at)) / 1000 as seconds,
    string_agg(message, '; ') filter (where status <> 'ok') as error,
from ops.runs
group by run_id
order by started_at desc, run_id desc
limit $limit

-- query: rejected_by_reason
select stream, split_part(reason, ':', 1) as reason, count(*) as rows,
from ops.rejected_rows
group by all
order by rows desc, stream, reason

-- query: quarantined_files
-- source files rejected whole (unreadable, corrupt, not Parquet): none of their rows loaded;
-- the same version is not read again, a corrected upload (a new version) is
select
    r.stream,
    any_value(r.reason) as reason,
    r.source_uri as object,
    min(r.rejected_at) as quarantined_at,
    count(*)::bigint as rows_rejected,
    any_value(f.source_etag) as version,
from ops.rejected_rows as r
left join ops.load_ledger as l on l.batch_id = r.batch_id and l.source_uri = r.source_uri
left join ops.landed_files as f on f.landing_uri = l.landing_uri
where regexp_matches(r.reason, '^(unreadable file|not a Parquet file|unreadable Parquet file):')
group by r.stream, r.source_uri, r.batch_id
order by quarantined_at desc, object
limit $limit

-- query: check_results
select
    check_name,
    arg_max(severity, checked_at) as severity,
    arg_max(status, checked_at) as status,
    arg_max(failing_rows, checked_at) as failing_rows,
    arg_max(sample, checked_at) as sample,
    max(checked_at) as checked_at,
    count(*) as runs,
    count(*) filter (where status <> 'pass') as failed_runs,
from ops.check_results
group by check_name
order by arg_max(status, checked_at) = 'pass', arg_max(severity, checked_at), check_name

-- query: snapshots
with

snapshots as (
    select * from ducklake_snapshots('lake') order by snapshot_id desc limit $limit
),

-- `changes` maps a kind of change to table ids (to names for created tables and schemas)
changes as (
    select snapshot_id, kind, unnest(changes[kind]) as target
    from snapshots, unnest(map_keys(changes)) as k(kind)
),

-- the catalog's own tables (DuckLake spec) name every table id, dropped ones included
tables as (
    select t.table_id::varchar as target, s.schema_name || '.' || t.table_name as table_name
    from __ducklake_metadata_lake.ducklake_table as t
    join __ducklake_metadata_lake.ducklake_schema as s using (schema_id)
    qualify row_number() over (partition by t.table_id order by t.begin_snapshot desc) = 1
),

-- one verb per kind of change, whether the rows went to Parquet files or were inlined in the
-- catalog (a storage detail): "insert ops.load_ledger, raw.location_events; delete mart.x"
verbs as (
    select
        snapshot_id,
        case
            when kind like '%insert%' then 'insert'
            when kind like '%delete%' then 'delete'
            when kind like '%created' then 'create'
            when kind like '%dropped' then 'drop'
            else replace(replace(kind, 'tables_', 'table '), '_', ' ')
        end as verb,
        array_to_string(list_sort(list_distinct(list(coalesce(t.table_name, c.target)))), ', ')
            as targets,
    from changes as c
    left join tables as t using (target)
    group by all
),

described as (
    select snapshot_id, string_agg(verb || ' ' || targets, '; ' order by verb) as changes,
    from verbs
    group by snapshot_id
)

-- what ran: ClickLake names every snapshot it commits; the catalog's first one is DuckLake's own
select
    s.snapshot_id,
    s.snapshot_time,
    coalesce(s.author, 'DuckLake') as author,
    coalesce(s.commit_message, if(s.snapshot_id = 0, 'lake catalog created',
                                  '(no message: not committed by ClickLake)')) as commit_message,
    d.changes,
    s.commit_extra_info as extra_info,
from snapshots as s
left join described as d using (snapshot_id)
order by s.snapshot_id desc

-- query: as_of_snapshots
-- the snapshots the "as of" control offers: those that changed a mart table (the figures every
-- page shows), newest first, plus $pinned (the one a link names) whatever it changed. Read from
-- the catalog's own tables (DuckLake spec), not ducklake_snapshots(), which parses every
-- snapshot's changes into a map (0.2 s at 6,000 snapshots): `changes_made` lists a snapshot's
-- changes as `kind:<table id>` or `kind:"schema"."table"`, separated by commas
with

mart_tables as (
    select distinct t.table_id::varchar as target
    from __ducklake_metadata_lake.ducklake_table as t
    join __ducklake_metadata_lake.ducklake_schema as s using (schema_id)
    where s.schema_name = 'mart'
),

changes as (
    select snapshot_id, regexp_extract(unnest(string_split(changes_made, ',')), ':(.*)$', 1)
        as target
    from __ducklake_metadata_lake.ducklake_snapshot_changes
),

changed_marts as (
    select distinct snapshot_id
    from changes
    where target in (select target from mart_tables) or target like '"mart".%'
    order by snapshot_id desc
    limit $limit
)

select
    s.snapshot_id,
    s.snapshot_time::timestamptz as snapshot_time,  -- text in a SQLite catalog
    coalesce(c.commit_message, '(no message: not committed by ClickLake)') as commit_message,
from __ducklake_metadata_lake.ducklake_snapshot as s
left join __ducklake_metadata_lake.ducklake_snapshot_changes as c using (snapshot_id)
where s.snapshot_id in (select snapshot_id from changed_marts)
    or s.snapshot_id = $pinned
order by s.snapshot_id desc

-- query: restated_days
-- every day of mart.daily_kpis up to snapshot $last with how its figures moved after the lake
-- first reported it, from the mart's change feed (each build of a day inserts its row again, so
-- its versions are the inserted rows): `moves` while it was the newest day (its hours arriving)
-- and `late_moves`, after a later day had been reported (late files, a rebuild after a fix)
with

versions as (
    select
        snapshot_id,
        date as day,
        events,
        sessions,
        orders,
        revenue,
        max(date) over (order by snapshot_id
                        range between unbounded preceding and 1 preceding) as newest_before,
    from ducklake_table_changes('lake', 'mart', 'daily_kpis', 0, $last)
    where change_type in ('insert', 'update_postimage')
),

moves as (
    select
        *,
        (events, sessions, orders, revenue) is distinct from lag((events, sessions, orders, revenue))
            over (partition by day order by snapshot_id) as moved,
    from versions
)

select
    m.day,
    count(*) filter (where m.moved) - 1 as moves,
    count(*) filter (where m.moved and m.newest_before > m.day) as late_moves,
    count(*) as builds,
    min(s.snapshot_time::timestamptz) as first_reported,  -- text in a SQLite catalog
    max(s.snapshot_time::timestamptz) filter (where m.moved) as last_moved,
    arg_min(m.events, m.snapshot_id) as first_events,
    arg_max(m.events, m.snapshot_id) as events,
    arg_min(m.revenue, m.snapshot_id) as first_revenue,
    arg_max(m.revenue, m.snapshot_id) as revenue,
from moves as m
inner join __ducklake_metadata_lake.ducklake_snapshot as s using (snapshot_id)
group by m.day
order by m.day desc

-- query: day_versions
-- the versions of one day's figures ($day in mart.daily_kpis up to snapshot $last): each build
-- of the day, the snapshot that committed it, its figures and how they moved from the version
-- before (null for the first)
with

versions as (
    select
        snapshot_id,
        lag(snapshot_id) over (order by snapshot_id) as previous_snapshot,
        events, sessions, visitors, pageviews, add_to_carts, orders, revenue, conversion_rate,
    from ducklake_table_changes('lake', 'mart', 'daily_kpis', 0, $last)
    where date = $day and change_type in ('insert', 'update_postimage')
)

select
    v.snapshot_id,
    v.previous_snapshot,
    s.snapshot_time::timestamptz as snapshot_time,  -- text in a SQLite catalog
    coalesce(c.commit_message, '(no message: not committed by ClickLake)') as commit_message,
    v.* exclude (snapshot_id, previous_snapshot),
    v.events - lag(v.events) over w as events_change,
    v.sessions - lag(v.sessions) over w as sessions_change,
    v.visitors - lag(v.visitors) over w as visitors_change,
    v.pageviews - lag(v.pageviews) over w as pageviews_change,
    v.orders - lag(v.orders) over w as orders_change,
    v.revenue - lag(v.revenue) over w as revenue_change,
from versions as v
inner join __ducklake_metadata_lake.ducklake_snapshot as s using (snapshot_id)
left join __ducklake_metadata_lake.ducklake_snapshot_changes as c using (snapshot_id)
window w as (order by v.snapshot_id)
order by v.snapshot_id

-- query: day_files
-- why one day's figures moved: for each version of $day (as in day_versions), the files loaded
-- since the version before (the load snapshots in between, named by their batch id), with the
-- ledger's rows in, loaded and rejected, the rejection reasons, and how many events of the day
-- stage kept from each; for the day's first version, the files loaded since the build of the
-- marts before it (earlier files would have built the day then). A file is late when it holds
-- events from before its folder's hour or day (filed under a later hour), or was loaded by the
-- run of an hour two or more after its folder's start (dropped in after its hour ran). The day's
-- raw events in each file come from each source format's file_days.sql: raw events - events
-- kept = the duplicates stage removed.
-- union: file_days.sql
with

builds as (
    select snapshot_id, date
    from ducklake_table_changes('lake', 'mart', 'daily_kpis', 0, $last)
    where change_type in ('insert', 'update_postimage')
),

versions as (
    select
        snapshot_id,
        coalesce(
            lag(snapshot_id) over (order by snapshot_id),
            (select max(b.snapshot_id) from builds as b where b.snapshot_id < d.snapshot_id),
            -1
        ) as previous_snapshot,
    from builds as d
    where date = $day
),

loads as (
    select snapshot_id, json_extract_string(commit_extra_info, '$.batch_id') as batch_id
    from __ducklake_metadata_lake.ducklake_snapshot_changes
    where snapshot_id <= $last and json_extract_string(commit_extra_info, '$.batch_id') is not null
),

files as (
    select
        v.snapshot_id as version,
        l.snapshot_id as loaded_in,
        g.batch_id,
        g.stream,
        g.source_uri,
        g.run_id,
        g.loaded_at,
        g.rows_in,
        g.rows_loaded,
        g.rows_rejected,
    from ops.load_ledger as g
    inner join loads as l using (batch_id)
    inner join versions as v
        on l.snapshot_id > v.previous_snapshot and l.snapshot_id <= v.snapshot_id
    -- a file can hold events of $day only if its folder's day lies from the day before (a
    -- reporting time zone behind UTC) to $late_days after it (the formats' late-data window)
    where coalesce(try_cast(regexp_extract(g.source_uri, 'date=(\d{4}-\d{2}-\d{2})', 1) as date)
                   between $day::date - 1 and $day::date + $late_days + 1, true)
),

-- the day's events stage keeps from each file: a copy never replaces the one that arrived
-- first, so what stage holds now of a file is what it kept when the file was absorbed
kept as (
    select source_file as source_uri, count(*) as events_kept, min(event_ts) as first_event,
    from stage.events
    where event_date = $day and source_file in (select source_uri from files)
    group by all
),

reasons as (
    select source_uri, string_agg(distinct split_part(reason, ':', 1), '; ') as reasons
    from ops.rejected_rows
    where source_uri in (select source_uri from files)
    group by all
),

final as (
    select
        f.*,
        coalesce(d.raw_events, 0) as raw_events,
        coalesce(k.events_kept, 0) as events_kept,
        coalesce(r.reasons, '') as reasons,
        -- the folder the file was filed under: date=YYYY-MM-DD[/hour=HH]
        strptime(regexp_extract(f.source_uri, 'date=(\d{4}-\d{2}-\d{2})', 1)
                 || ' ' || coalesce(nullif(regexp_extract(f.source_uri, '/hour=(\d{2})/', 1), ''),
                                    '00') || ' +00', '%Y-%m-%d %H %z') as folder_start,
        regexp_matches(f.source_uri, '/hour=\d{2}/') as hourly,
        try_strptime(left(f.run_id, 11) || ' +00', '%Y%m%dT%H %z') as run_hour,
        k.first_event,
    from files as f
    left join kept as k using (source_uri)
    left join reasons as r using (source_uri)
    left join (select source_file as source_uri, raw_events from source_rows) as d
        using (source_uri)
)

select
    * exclude (hourly, run_hour, first_event),
    -- raw rows of the day that stage did not keep: copies of events that arrived first
    greatest(raw_events - events_kept, 0) as duplicates,
    -- the object key below its stream's folder, as data health names files
    coalesce(nullif(regexp_extract(source_uri, '/' || stream || '/(.*)$', 1), ''), source_uri)
        as file,
    coalesce(first_event < folder_start, false)
        or coalesce(run_hour >= folder_start + if(hourly, interval 2 hour, interval 2 day), false)
        as late,
from final
-- the files that touched the day: events on it, or lines rejected from its own folder
where raw_events > 0 or events_kept <> 0
    or (rows_rejected > 0 and (folder_start at time zone 'UTC')::date = $day)
order by version, loaded_in, stream, source_uri
