-- What `clicklake status` shows, one query per section.

-- section: freshness per stream
-- Per stream of the formats with data ($sources: the registry, clicklake.sources.as_json): its
-- newest events (the date=/hour= folder of the newest file it loaded rows from: those events'
-- hour, or day for a daily export), how old they are against the wall clock, its last load and
-- its last successful run. Judged by cadence, as checks.stream_freshness judges a run's hour:
-- an hourly stream is stale 3 h after its newest hour began, a daily export a day plus its
-- format's late-data window after its newest day began; a stream whose last successful run is
-- older than 3 h (hourly) or 27 h (daily) is late. Optional streams are shown, not judged.
-- The dashboard's data health page (sql/dashboard.sql, query freshness) judges the same way.
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
    status,
    newest_events,
    events_age_hours,
    last_ok_run_at,
    last_loaded_at,
    files,
    rows_loaded,
    rows_rejected,
from (
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
)
order by format, stream

-- section: source folders not read
-- folders of the source that no source format declares, as the last run that saw them said
select
    target as folder,
    arg_max(rows, finished_at) as files,
    max(finished_at) as last_seen,
    arg_max(message, finished_at) as message
from ops.runs
where step = 'unread'
group by target
order by folder

-- section: event time covered
select
    source_format,
    min(event_ts) as first_event,
    max(event_ts) as last_event,
    count(distinct event_date) as days,
    count(*) as events
from stage.events
group by source_format
order by source_format

-- section: rejected rows by reason
select stream, split_part(reason, ':', 1) as reason, count(*) as rows
from ops.rejected_rows
group by all
order by stream, rows desc

-- section: last runs
select
    run_id,
    min(started_at) as started_at,
    max(finished_at) as finished_at,
    bool_and(status = 'ok') as ok,
    sum(rows) filter (where step = 'load') as rows_loaded,
    round(sum(seconds), 2) as seconds,
    string_agg(message, '; ') filter (where status <> 'ok') as error
from ops.runs
group by run_id
order by started_at desc
limit 10

-- section: quarantined files
-- source files rejected whole (unreadable, corrupt, not Parquet): none of their rows loaded;
-- the same version is not read again, a corrected upload (a new version) is; the object is
-- named below its stream's folder (the full key: ops.rejected_rows.source_uri)
select
    r.stream,
    regexp_replace(r.source_uri, '^.*?/' || r.stream || '/', '') as object,
    any_value(f.source_etag) as version,
    any_value(r.reason) as reason,
    count(*) as rows_rejected,
    min(r.rejected_at) as quarantined_at
from ops.rejected_rows as r
left join ops.load_ledger as l on l.batch_id = r.batch_id and l.source_uri = r.source_uri
left join ops.landed_files as f on f.landing_uri = l.landing_uri
where regexp_matches(r.reason, '^(unreadable file|not a Parquet file|unreadable Parquet file):')
group by r.stream, r.source_uri, r.batch_id
order by quarantined_at desc, object
limit 50

-- section: checks of the last run
-- the latest checked run by time: run ids do not sort by time (`rebuild-…` after any hour)
select check_name, severity, status, failing_rows, sample
from ops.check_results
where run_id = (select arg_max(run_id, checked_at) from ops.check_results)
order by status, severity, check_name
