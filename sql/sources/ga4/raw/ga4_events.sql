-- raw.ga4_events: one row per accepted line of the GA4 BigQuery export (one event per line).
-- The columns are the export's top-level fields, as typed by BigQuery; nested records and
-- repeated fields (event_params, device, items, ...) arrive as JSON text and are kept as json,
-- parsed in stage. NOT NULL columns are the fields an event cannot do without: a line that
-- lacks one, or whose value does not cast (event_timestamp arrives as a string or a number),
-- goes to ops.rejected_rows with the reason instead. user_pseudo_id may be null: consent-mode
-- pings have none.
-- The event time (`event_time <column>: <its timestamptz, {} standing for the typed value>`)
-- is checked at load: an implausible one rejects the line (CLICKLAKE_EARLIEST_EVENT_DATE,
-- CLICKLAKE_FUTURE_EVENT_HOURS).
-- event_time event_timestamp: try(make_timestamptz({}))
create table if not exists lake.raw.ga4_events (
    -- timestamps
    event_date varchar,
    event_timestamp bigint not null,
    -- the event
    event_name varchar not null,
    event_params json,
    event_previous_timestamp bigint,
    event_value_in_usd double,
    event_bundle_sequence_id bigint,
    event_server_timestamp_offset bigint,
    -- the user
    user_id varchar,
    user_pseudo_id varchar,
    privacy_info json,
    user_properties json,
    user_first_touch_timestamp bigint,
    user_ltv json,
    -- context
    device json,
    geo json,
    app_info json,
    traffic_source json,
    stream_id varchar,
    platform varchar,
    event_dimensions json,
    -- ecommerce
    ecommerce json,
    items json,
    -- attribution and batching
    collected_traffic_source json,
    is_active_user boolean,
    batch_event_index bigint,
    batch_page_id bigint,
    batch_ordering_id bigint,
    session_traffic_source_last_click json,
    publisher json,
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
