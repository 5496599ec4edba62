-- What `clicklake status` shows, one query per section.

-- section: freshness per stream
select
    stream,
    max(loaded_at) as last_loaded_at,
    count(*) as files,
    sum(rows_loaded) as rows_loaded,
    sum(rows_rejected) as rows_rejected
from ops.load_ledger
group by stream
order by stream

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

-- section: checks of the last run
select check_name, severity, status, failing_rows, sample
from ops.check_results
where run_id = (select max(run_id) from ops.check_results)
order by status, severity, check_name
