-- ops.load_ledger: one row per landed file loaded into raw, committed in the same DuckLake
-- transaction as its rows (the snapshot's commit message is the batch id).
-- rows_in = rows_loaded + rows_rejected, always.
create table if not exists lake.ops.load_ledger (
    landing_uri varchar not null,
    stream varchar not null,
    source_uri varchar not null,
    rows_in bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    batch_id varchar not null,
    run_id varchar not null,
    loaded_at timestamptz not null
);
