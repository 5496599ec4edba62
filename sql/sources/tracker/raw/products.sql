-- raw.products: one row per accepted line of the shop's product catalog export.
-- A product appears again whenever it changes; stage.products turns that into price history.
create table if not exists lake.raw.products (
    -- ids
    product_id varchar not null,
    -- attributes
    name varchar,
    category varchar,
    price decimal(18, 2) not null,
    currency varchar,
    -- timestamps
    updated_at timestamptz not null,
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
