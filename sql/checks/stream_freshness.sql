-- checks.stream_freshness: every stream has landed a recent file, judged at the hour being run
-- (not the wall clock, so backfills judge each hour as it was): an hourly stream a file from
-- within two hours of it, a daily export its last day within its format's late-data window.
-- Optional streams (the tracker's product catalog, exported only when it changes) are not
-- judged.
-- severity: warn
-- layer: lake
with

streams as (
    select s.*
    from (
        select unnest(from_json($sources, '[{"stream": "VARCHAR", "cadence": "VARCHAR",
            "late_hours": "INTEGER", "optional": "BOOLEAN"}]'), recursive := true)
    ) as s
    where not s.optional
),

-- the newest date= (and hour=) folder each stream has landed a file from
landed as (
    select
        stream,
        max(strptime(
            regexp_extract(source_uri, '/date=(\d{4}-\d{2}-\d{2})/', 1) || ' '
                || coalesce(nullif(regexp_extract(source_uri, '/hour=(\d{2})/', 1), ''), '00'),
            '%Y-%m-%d %H'
        )) as newest_folder
    from ops.landed_files
    where regexp_matches(source_uri, '/date=\d{4}-\d{2}-\d{2}/')
    group by stream
),

judged as (
    select
        l.stream,
        s.cadence,
        l.newest_folder,
        case s.cadence
            when 'daily' then l.newest_folder + interval 1 day + to_hours(s.late_hours)
            else l.newest_folder + interval 3 hour
        end as stale_after
    from landed as l
    inner join streams as s using (stream)
)

select stream, cadence, newest_folder, $run_end::timestamptz as run_end
from judged
where stale_after::timestamptz < $run_end::timestamptz
