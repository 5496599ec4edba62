-- raw.device_events: one row per accepted line of the device stream (one per visit).
create table if not exists lake.raw.device_events (
    -- ids
    click_id varchar not null,
    user_domain_id varchar,
    user_custom_id varchar,
    -- attributes
    os varchar,
    os_name varchar,
    os_timezone varchar,
    device_type varchar,
    device_is_mobile boolean,
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
