-- What `clicklake status` shows, one query per section.

-- section: freshness per stream
-- dashboard: freshness
-- The data health page's judgement of each stream (sql/dashboard.sql, query freshness: newest
-- events against the wall clock and the last successful run, by the stream's cadence), in the
-- columns a terminal has room for.
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
from freshness

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
-- dashboard: quarantined_files
select
    stream,
    regexp_replace(object, '^.*?/' || stream || '/', '') as object,
    version,
    reason,
    rows_rejected,
    quarantined_at,
from quarantined_files

-- section: checks of the last run
-- the latest checked run by time: run ids do not sort by time (`rebuild-…` after any hour)
select check_name, severity, status, failing_rows, sample
from ops.check_results
where run_id = (select arg_max(run_id, checked_at) from ops.check_results)
order by status, severity, check_name
