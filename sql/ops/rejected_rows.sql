-- ops.rejected_rows: every source line that did not make it into raw, with the reason.
-- line_no is the line's number in the source file (1-based) when known.
create table if not exists lake.ops.rejected_rows (
    stream varchar not null,
    source_uri varchar not null,
    line_no bigint,
    reason varchar not null,
    line varchar,
    batch_id varchar not null,
    rejected_at timestamptz not null
);
