-- raw.location_events: one row per accepted line of the location stream (one per event).
create table if not exists lake.raw.location_events (
    -- ids
    event_id varchar not null,
    -- attributes
    page_url varchar,
    page_url_path varchar,
    referer_url varchar,
    referer_medium varchar,
    utm_medium varchar,
    utm_source varchar,
    utm_content varchar,
    utm_campaign varchar,
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
