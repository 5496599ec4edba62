-- raw.geo_events: one row per accepted line of the geo stream (one per visit).
create table if not exists lake.raw.geo_events (
    -- ids
    click_id varchar not null,
    -- attributes
    geo_latitude double,
    geo_longitude double,
    geo_country varchar,
    geo_timezone varchar,
    geo_region_name varchar,
    ip_address varchar,
    -- the whole line as sent, kept when part of it did not map onto the columns above
    _unmapped json,
    -- lineage
    _source_file varchar not null,
    _line_no bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamptz not null,
    -- the date= folder of the source object (UTC): lets stage skip old files by their stats
    _source_date date not null
);
