-- checks.stream_freshness: every event stream has landed a file from within two hours of the
-- hour being run (judged at the run's hour, not the wall clock, so backfills judge each hour
-- as it was). The optional product catalog is only exported when it changes.
-- severity: warn
-- layer: lake
with

landed as (
    select
        stream,
        max(strptime(regexp_extract(source_uri, 'date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})', 1)
            || ' ' || regexp_extract(source_uri, 'date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})', 2),
            '%Y-%m-%d %H')) as newest_hour
    from ops.landed_files
    where stream <> 'products' and source_uri similar to '.*date=.*/hour=.*'
    group by stream
)

select stream, newest_hour, $run_end::timestamptz as run_end
from landed
where newest_hour::timestamptz < $run_end::timestamptz - interval 3 hour
