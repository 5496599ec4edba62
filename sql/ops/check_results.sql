-- ops.check_results: one row per check per run; failing_rows = rows the check returned.
create table if not exists lake.ops.check_results (
    run_id varchar not null,
    check_name varchar not null,
    severity varchar not null,
    status varchar not null,
    failing_rows bigint not null,
    sample varchar,
    checked_at timestamptz not null
);
