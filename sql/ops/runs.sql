-- ops.runs: one row per pipeline step run (extract, load, transform, checks) per stream/hour.
create table if not exists lake.ops.runs (
    run_id varchar not null,
    step varchar not null,
    target varchar,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    status varchar not null,
    rows bigint,
    seconds double,
    message varchar
);
