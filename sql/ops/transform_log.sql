-- ops.transform_log: load batches whose event-time partitions stage and mart have absorbed.
create table if not exists lake.ops.transform_log (
    batch_id varchar not null,
    run_id varchar not null,
    transformed_at timestamptz not null
);
