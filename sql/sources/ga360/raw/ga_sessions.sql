-- raw.ga_sessions: one row per accepted line of the GA360 export (one visit, hits nested).
-- The export's top-level fields as columns; its nested records and repeated fields stay JSON
-- (stage reads only the parts it maps, and a field Google adds later is kept, not dropped).
-- NOT NULL columns are the contract's required fields: a line that lacks one, or whose value
-- does not cast to the column's type, goes to ops.rejected_rows with the reason instead.
-- The event time (`event_time <column>: <its timestamptz, {} standing for the typed value>`)
-- is checked at load: an implausible one rejects the line (CLICKLAKE_EARLIEST_EVENT_DATE,
-- CLICKLAKE_FUTURE_EVENT_HOURS).
-- event_time visitStartTime: try(to_timestamp({}))
create table if not exists lake.raw.ga_sessions (
    -- ids: BigQuery writes INT64 as JSON strings, other exporters as numbers; varchar keeps the
    -- digits either way (fullVisitorId is longer than a bigint)
    fullVisitorId varchar not null,
    visitId varchar not null,
    visitNumber bigint,
    -- timestamps: POSIX seconds, UTC; date is YYYYMMDD in the property's time zone
    visitStartTime bigint not null,
    date varchar,
    -- attributes
    visitorId varchar,
    userId varchar,
    clientId varchar,
    channelGrouping varchar,
    socialEngagementType varchar,
    -- nested records and repeated fields, as exported
    totals json,
    trafficSource json,
    device json,
    geoNetwork json,
    customDimensions json,
    hits json,
    -- the whole line as sent, kept when part of it did not map onto the columns above
    _unmapped json,
    -- lineage
    _source_file varchar not null,
    _line_no bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamptz not null,
    -- the date= folder of the source object: lets stage skip old files by their stats
    _source_date date not null
);
