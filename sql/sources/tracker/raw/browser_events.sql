-- raw.browser_events: one row per accepted line of the tracker's browser stream.
-- NOT NULL columns are the contract's required fields: a line that lacks one, or whose value
-- does not cast to the column's type, goes to ops.rejected_rows with the reason instead.
-- The event time (`event_time <column>: <its timestamptz, {} standing for the typed value>`)
-- is checked at load: an implausible one rejects the line (CLICKLAKE_EARLIEST_EVENT_DATE,
-- CLICKLAKE_FUTURE_EVENT_HOURS).
-- event_time event_timestamp: {}
create table if not exists lake.raw.browser_events (
    -- ids
    event_id varchar not null,
    click_id varchar not null,
    -- timestamps
    event_timestamp timestamptz not null,
    -- attributes
    event_type varchar,
    browser_name varchar,
    browser_user_agent varchar,
    browser_language varchar,
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
