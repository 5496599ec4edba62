-- stage.products (tracker): one row per product price version (valid_from <= t < valid_to).
-- A product row that arrives again unchanged is one version; a new updated_at is a new one.

with

source as (
    select * from raw.products
),

versions as (
    select
        product_id,
        updated_at as valid_from,
        arg_min(name, _loaded_at) as name,
        arg_min(category, _loaded_at) as category,
        arg_min(price, _loaded_at) as price,
        arg_min(currency, _loaded_at) as currency
    from source
    group by product_id, updated_at
),

dated as (
    select
        *,
        lead(valid_from) over (partition by product_id order by valid_from) as valid_to
    from versions
),

final as (
    select
        product_id,
        name,
        category,
        price,
        currency,
        valid_from,
        valid_to,
        valid_to is null as is_current
    from dated
)

select * from final
