-- ops.landed_files: the extract manifest, one row per source object version landed.
-- A source object is landed once per (source_uri, source_etag, source_size).
create table if not exists lake.ops.landed_files (
    stream varchar not null,
    source_uri varchar not null,
    source_size bigint not null,
    source_etag varchar not null,
    landing_uri varchar not null,
    rejected_uri varchar,
    lines_in bigint not null,
    lines_invalid bigint not null,
    run_id varchar not null,
    landed_at timestamptz not null,
    -- empty lines of the landing file (blank or invalid in the source, kept so that line N is
    -- line N of the source); 0 = dense. Null for files landed before ClickLake counted them.
    lines_blank bigint
);
